/**
 * A real redis-server for tests, on a free port, with no persistence. In CI (CI=true) a missing
 * redis-server fails the test with a clear message; elsewhere tests may skip loudly.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import net from 'node:net'
import { freePort } from './upstream.js'

const CANDIDATES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server']

export function redisServerPath(): string | undefined {
  return CANDIDATES.find((p) => existsSync(p))
}

/** True when tests needing Redis must run (CI) or can (binary present). Logs loudly when skipping. */
export function redisAvailable(): boolean {
  if (redisServerPath()) return true
  if (process.env.CI === 'true') {
    throw new Error('redis-server is required in CI but not installed (apt-get install redis-server; .ci/run does this)')
  }
  // eslint-disable-next-line no-console
  console.warn('\n*** SKIPPING Redis tests: redis-server not installed (apt-get install redis-server) ***\n')
  return false
}

export interface TestRedis {
  readonly url: string
  readonly port: number
  stop(): Promise<void>
}

/**
 * Start redis-server on a free port. A port found free can be taken by another test process
 * before redis binds it: then it exits at once, and it is started again on another port, up to
 * three times.
 */
export async function startRedis(): Promise<TestRedis> {
  let last: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startRedisOnce()
    } catch (err) {
      last = err
    }
  }
  throw last
}

async function startRedisOnce(): Promise<TestRedis> {
  const bin = redisServerPath()
  if (!bin) throw new Error('redis-server not installed (apt-get install redis-server)')
  const port = await freePort()
  const child: ChildProcess = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
    stdio: 'ignore',
  })
  // A loaded CI machine (the whole suite in parallel) can take seconds to start it.
  const deadline = Date.now() + 10_000
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) break
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL')
      throw new Error(`redis-server did not start on port ${port}`)
    }
    await new Promise((r) => setTimeout(r, 25))
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        // A server killed by a signal keeps exitCode null: check both, so stop() can be called twice.
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGKILL')
      }),
  }
}
