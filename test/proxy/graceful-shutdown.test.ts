import { afterEach, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs'
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

describe('SIGTERM', () => {
  it('stops accepting, lets in-flight requests finish, then exits 0', async () => {
    expect(existsSync(join(root, 'dist/src/cli.js')), 'dist/ missing: npm test builds it (pretest)').toBe(true)
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => (release = r))
    up = await startUpstream('slow', async (req, res) => {
      // Only /slow waits: a probe that slips in before the listener closes must not block.
      if (req.url === '/slow') await gate
      res.end('finished')
    })
    const port = await freePort()
    dir = mkdtempSync(join(tmpdir(), 'sy-term-'))
    const file = join(dir, 'gw.yaml')
    writeFileSync(file, `server: { host: 127.0.0.1, port: ${port}, shutdownTimeout: 30s }\nadmin: false\npools: { p: { backends: [${up.url}] } }\nroutes: [{ name: r, match: { path: / }, pool: p }]\n`)
    child = spawn(process.execPath, [join(root, 'bin/switchyard.js'), 'start', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    child.stdout!.on('data', (d) => (stdout += d))
    child.stderr!.on('data', (d) => (stdout += d))
    await waitFor(() => stdout.includes('switchyard listening'), 10_000, 25, 'gateway start')
    const inFlight = request(`http://127.0.0.1:${port}/slow`)
    await waitFor(() => up!.requests.some((r) => r.url === '/slow'), 5_000, 10, 'request to reach upstream')
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)))
    child.kill('SIGTERM')
    // New connections are refused while draining.
    await waitFor(
      async () => {
        try {
          await request(`http://127.0.0.1:${port}/new`).then((r) => r.body.text())
          return false
        } catch {
          return true
        }
      },
      3_000,
      25,
      'listener to close',
    )
    release()
    const res = await inFlight
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('finished')
    expect(await exited).toBe(0)
    expect(stdout).toContain('draining')
  })
})
