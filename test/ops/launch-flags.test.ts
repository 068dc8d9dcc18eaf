/**
 * Every way the gateway is launched bounds V8's young generation the same way
 * (--max-semi-space-size=16; why: bin/switchyard.js), and the benchmark measures the gateway as
 * those launchers start it: a launcher that drifts would change RSS under load unnoticed.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '../..')
const FLAG = '--max-semi-space-size=16'
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8')

describe('launch flags', () => {
  it('the launcher, npm start, the Dockerfile, the systemd unit and the bench use the same young-generation bound', async () => {
    expect(read('bin/switchyard.js').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${FLAG}`)
    expect(read('bin/switchyard.js')).toContain(`spawn(pinned, ['${FLAG}'`)
    expect(JSON.parse(read('package.json')).scripts.start).toContain(FLAG)
    expect(read('Dockerfile')).toMatch(new RegExp(`ENTRYPOINT \\["node", "${FLAG}", "bin/switchyard.js"\\]`))
    expect(read('deploy/systemd/switchyard.service')).toMatch(new RegExp(`^ExecStart=\\S+/node ${FLAG} `, 'm'))
    const { GATEWAY_NODE_FLAGS } = (await import(join(ROOT, 'bench/targets-lib.js'))) as { GATEWAY_NODE_FLAGS: string[] }
    expect(process.env.BENCH_GATEWAY_FLAGS === undefined ? GATEWAY_NODE_FLAGS : [FLAG]).toEqual([FLAG])
    // Worker threads get the same bound through resourceLimits (3 semi-spaces of 16 MiB).
    expect(read('src/workers/supervisor.ts')).toContain('resourceLimits: { maxYoungGenerationSizeMb: 48 }')
  })
})
