import { afterEach, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { request } from 'undici'
import { freePort, startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

const root = resolve(import.meta.dirname, '../..')
let ups: TestUpstream[] = []
let child: ChildProcess | undefined
let dir: string | undefined
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL')
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const yaml = (port: number, backend: string) =>
  `server: { host: 127.0.0.1, port: ${port} }\nadmin: false\npools: { p: { backends: [${backend}] } }\nroutes: [{ name: r, match: { path: / }, pool: p }]\n`

describe('SIGHUP', () => {
  it('reloads the configuration file; an invalid file is refused and the old one keeps serving', async () => {
    expect(existsSync(join(root, 'dist/src/cli.js')), 'dist/ missing: npm test builds it (pretest)').toBe(true)
    const a = await startUpstream('a')
    const b = await startUpstream('b')
    ups.push(a, b)
    const port = await freePort()
    dir = mkdtempSync(join(tmpdir(), 'sy-hup-'))
    const file = join(dir, 'gw.yaml')
    writeFileSync(file, yaml(port, a.url))
    child = spawn(process.execPath, [join(root, 'bin/switchyard.js'), 'start', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout!.on('data', (d) => (out += d))
    child.stderr!.on('data', (d) => (out += d))
    await waitFor(() => out.includes('switchyard listening'), 10_000, 25, 'gateway start')
    const upstreamOf = async () => {
      const res = await request(`http://127.0.0.1:${port}/x`)
      await res.body.text()
      return res.headers['x-upstream']
    }
    expect(await upstreamOf()).toBe('a')

    writeFileSync(file, yaml(port, b.url))
    child.kill('SIGHUP')
    await waitFor(async () => (await upstreamOf()) === 'b', 5_000, 25, 'reload to take effect')

    writeFileSync(file, yaml(port, b.url).replace('pool: p', 'pool: missing'))
    child.kill('SIGHUP')
    await waitFor(() => out.includes('SIGHUP reload rejected'), 5_000, 25, 'rejection to be logged')
    expect(out).toContain('routes[0].pool')
    expect(await upstreamOf()).toBe('b')
  })
})
