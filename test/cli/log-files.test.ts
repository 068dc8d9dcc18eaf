/**
 * `switchyard start` logs as the `log` section says: the gateway log at `log.level` to
 * `log.file`, access lines to `log.access.file`, nothing of either on stdout; everything written
 * by the time the process has exited on SIGTERM (asynchronous destinations flushed on exit).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { request } from 'undici'
import { freePort, startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

const root = resolve(import.meta.dirname, '../..')
let up: TestUpstream | undefined
let child: ChildProcess | undefined
let dir: string | undefined
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL')
  await up?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const readLines = (file: string) =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : []

describe('switchyard start: log section', () => {
  it('writes the gateway log to log.file at log.level and access lines to log.access.file', async () => {
    expect(existsSync(join(root, 'dist/src/cli.js')), 'dist/ missing: npm test builds it (pretest)').toBe(true)
    up = await startUpstream('a')
    const port = await freePort()
    dir = mkdtempSync(join(tmpdir(), 'sy-logfiles-'))
    const config = join(dir, 'gw.yaml')
    writeFileSync(
      config,
      `server: { host: 127.0.0.1, port: ${port} }\nadmin: false\nlog: { level: info, file: logs/gateway.log, access: { file: logs/access.log } }\n` +
        `pools: { p: { backends: [${up.url}] } }\nroutes: [{ name: r, match: { path: / }, pool: p }]\n`,
    )
    child = spawn(process.execPath, [join(root, 'bin/switchyard.js'), 'start', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout!.on('data', (d) => (out += d))
    child.stderr!.on('data', (d) => (out += d))
    const gatewayLog = join(dir, 'logs', 'gateway.log')
    const accessLog = join(dir, 'logs', 'access.log')
    await waitFor(() => readLines(gatewayLog).some((l) => l.msg === 'switchyard listening'), 10_000, 25, 'gateway start')
    for (let i = 0; i < 3; i++) {
      const res = await request(`http://127.0.0.1:${port}/x/${i}`, { headers: { 'x-request-id': `cli-${i}` } })
      await res.body.text()
    }
    const exited = new Promise<number | null>((r) => child!.once('exit', (c) => r(c)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(out).toBe('')
    const access = readLines(accessLog)
    expect(access.map((l) => l.reqId)).toEqual(['cli-0', 'cli-1', 'cli-2'])
    expect(access[0]).toMatchObject({ level: 30, service: 'switchyard', type: 'access', path: '/x/0', status: 200 })
    const main = readLines(gatewayLog)
    expect(main.some((l) => l.type === 'access')).toBe(false)
    expect(main.some((l) => l.msg === 'stopping: draining in-flight requests')).toBe(true)
  })

  it('log.level silent keeps the access log, on stdout without log.access.file', async () => {
    up = await startUpstream('a')
    const port = await freePort()
    dir = mkdtempSync(join(tmpdir(), 'sy-logfiles-'))
    const config = join(dir, 'gw.yaml')
    writeFileSync(config, `server: { host: 127.0.0.1, port: ${port} }\nadmin: false\nlog: { level: silent }\npools: { p: { backends: [${up.url}] } }\nroutes: [{ name: r, match: { path: / }, pool: p }]\n`)
    child = spawn(process.execPath, [join(root, 'bin/switchyard.js'), 'start', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout!.on('data', (d) => (out += d))
    await waitFor(
      async () => {
        try {
          const res = await request(`http://127.0.0.1:${port}/y`, { headers: { 'x-request-id': 'silent-1' } })
          await res.body.text()
          return true
        } catch {
          return false
        }
      },
      10_000,
      50,
      'gateway start',
    )
    const exited = new Promise<number | null>((r) => child!.once('exit', (c) => r(c)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.every((l) => l.type === 'access')).toBe(true)
    expect(lines.some((l) => l.reqId === 'silent-1')).toBe(true)
  })

  it('an unwritable log.file is a problem line and exit 1', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sy-logfiles-'))
    writeFileSync(join(dir, 'blocker'), '')
    const config = join(dir, 'gw.yaml')
    writeFileSync(config, `admin: false\nlog: { file: blocker/gateway.log }\n`)
    child = spawn(process.execPath, [join(root, 'bin/switchyard.js'), 'start', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr!.on('data', (d) => (err += d))
    const code = await new Promise<number | null>((r) => child!.once('exit', (c) => r(c)))
    expect(code).toBe(1)
    expect(err).toMatch(/^log\.file: cannot open .*blocker\/gateway\.log for writing: E[A-Z]+$/m)
  })
})
