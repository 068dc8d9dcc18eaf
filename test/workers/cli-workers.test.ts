/**
 * `switchyard start` with `server.workers: 2`: both worker threads serve the one port, the
 * admin lists them, SIGHUP reloads every worker, and SIGTERM drains them and exits 0.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { request } from 'undici'
import { freePort, startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

const root = resolve(import.meta.dirname, '../..')
let child: ChildProcess | undefined
let ups: TestUpstream[] = []
let dir: string | undefined
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL')
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('switchyard start with server.workers: 2', { timeout: 45_000 }, () => {
  it('serves from both workers, reloads both on SIGHUP and drains on SIGTERM', async () => {
    ups = [await startUpstream('a'), await startUpstream('b')]
    const port = await freePort()
    const adminPort = await freePort()
    dir = mkdtempSync(join(tmpdir(), 'sy-workers-'))
    const file = join(dir, 'gw.yaml')
    const write = (up: string) =>
      writeFileSync(file, `server: { host: 127.0.0.1, port: ${port}, workers: 2 }\nadmin: { host: 127.0.0.1, port: ${adminPort} }\nlog: { level: warn, access: false }\npools: { p: { backends: [${up}] } }\nroutes: [{ name: r, match: { path: / }, pool: p }]\n`)
    write(ups[0]!.url)
    child = spawn(process.execPath, [join(root, 'bin/switchyard.js'), 'start', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout!.on('data', (d) => (out += d))
    child.stderr!.on('data', (d) => (out += d))
    const ask = async () => {
      const res = await request(`http://127.0.0.1:${port}/x`, { headers: { connection: 'close' } })
      await res.body.text()
      return res.headers['x-upstream']
    }
    await waitFor(async () => (await ask().catch(() => undefined)) === 'a', 20_000, 50, `the gateway (${out})`)
    // Both workers up (a worker still starting shows no heap yet); SIGHUP before that is ignored.
    const views = await waitFor(async () => {
      const v = (await (await request(`http://127.0.0.1:${adminPort}/api/workers`)).body.json()) as { id: number; heapUsedBytes: number }[]
      return v.every((w) => w.heapUsedBytes > 0) ? v : undefined
    }, 20_000, 50, 'both workers listening')
    expect(views!.map((v) => v.id)).toEqual([0, 1])
    write(ups[1]!.url)
    child.kill('SIGHUP')
    await waitFor(async () => {
      for (let i = 0; i < 10; i++) if ((await ask()) !== 'b') return false
      return true
    }, 10_000, 50, 'both workers reloaded')
    const exited = new Promise<number | null>((r) => child!.once('exit', (c) => r(c)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
