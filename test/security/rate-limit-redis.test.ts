/**
 * Rate limiting on Redis with a real redis-server: two gateway processes (`switchyard start`)
 * spend one budget; while Redis is down a route fails open (served, logged, counted) or, with
 * `onStoreError: deny`, closed (503, nothing upstream).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { redisAvailable, startRedis } from '../helpers/redis.js'
import { freePort, waitFor } from '../helpers/upstream.js'
import { Resources, send } from './harness.js'
import { tempFile } from './tokens.js'

const root = path.resolve(import.meta.dirname, '../..')
const bin = path.join(root, 'bin/switchyard.js')
const res = new Resources()
afterEach(() => res.closeAll())

/** The child processes run the compiled CLI; rebuild dist/ when our sources are newer (as `npm test`'s pretest does). */
function ensureBuilt(): void {
  const built = path.join(root, 'dist/src/ratelimit/rate-limit-feature.js')
  const sources = ['src/ratelimit/rate-limit-feature.ts', 'plugins/rate-limit-store.ts', 'src/ratelimit/store.ts', 'src/ratelimit/key.ts', 'src/features.ts']
  const stale = !existsSync(built) || sources.some((s) => statSync(path.join(root, s)).mtimeMs > statSync(built).mtimeMs)
  if (stale) execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'ignore', timeout: 120_000 })
}

async function startCliGateway(configFile: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort()
  const child = spawn(process.execPath, [bin, 'start', '-c', configFile], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  res.add(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGKILL')
      }),
    undefined,
  )
  await waitFor(() => out.includes('switchyard listening') || child.exitCode !== null, 15_000, 25, 'gateway process listening')
  if (child.exitCode !== null) throw new Error(`gateway exited: ${out}`)
  return { url: `http://127.0.0.1:${port}`, child }
}

/**
 * startRedis().stop() waits for an 'exit' that has already happened when called twice (a child
 * killed by a signal keeps exitCode null), so each server is stopped at most once here.
 */
async function redisServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const redis = await startRedis()
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => (stopping ??= redis.stop())
  res.add(stop, undefined)
  return { url: redis.url, stop }
}

const haveRedis = redisAvailable()

describe.runIf(haveRedis)('Redis store', () => {
  beforeAll(() => ensureBuilt(), 130_000)

  it('two gateway processes on one Redis spend one budget', async () => {
    const redis = await redisServer()
    const up = await res.upstream()
    const file = tempFile(
      'gateway.yaml',
      [
        'server:',
        '  host: 127.0.0.1',
        '  port: ${PORT}',
        'admin: false',
        `rateLimit: { store: redis, redis: "${redis.url}" }`,
        `pools: { main: { backends: ["${up.url}"] } }`,
        'routes:',
        '  - { name: users, match: { path: / }, pool: main, rateLimit: { max: 4, window: 1m } }',
        '',
      ].join('\n'),
    )
    const [a, b] = await Promise.all([startCliGateway(file), startCliGateway(file)])
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) {
      statuses.push((await send(`${a.url}/x`)).status)
      statuses.push((await send(`${b.url}/x`)).status)
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429])
    expect(up.requests).toHaveLength(4)
    const last = await send(`${b.url}/x`)
    expect(last.headers['ratelimit-limit']).toBe('4')
    expect(last.headers['ratelimit-remaining']).toBe('0')
  })

  it('fails open while Redis is down (logged and counted), and closed on routes that say deny', async () => {
    const redis = await redisServer()
    const up = await res.upstream()
    const gw = await res.gateway({
      rateLimit: { store: 'redis', redis: redis.url },
      pools: { main: { backends: [up.url] } },
      routes: [
        { name: 'strict', match: { path: '/strict' }, pool: 'main', rateLimit: { max: 100, window: '1m', onStoreError: 'deny' } },
        { name: 'lenient', match: { path: '/' }, pool: 'main', rateLimit: { max: 100, window: '1m' } },
      ],
    })
    // While Redis is up, both count.
    expect((await send(`${gw.url}/strict`)).headers['ratelimit-remaining']).toBe('99')
    expect((await send(`${gw.url}/x`)).headers['ratelimit-remaining']).toBe('99')
    expect(up.requests).toHaveLength(2)

    await redis.stop()
    const started = Date.now()
    const lenient = await send(`${gw.url}/x`)
    expect(lenient.status).toBe(200)
    expect(lenient.headers['ratelimit-limit']).toBeUndefined()
    const strict = await send(`${gw.url}/strict`)
    expect(strict.status).toBe(503)
    expect(strict.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'rate limit store unavailable', code: 'SWITCHYARD_RATE_LIMIT_STORE' })
    // Failing is fast: no request waits for Redis to come back.
    expect(Date.now() - started).toBeLessThan(2000)
    expect(up.requests).toHaveLength(3)
    const metrics = await gw.metrics.registry.metrics()
    expect(metrics).toMatch(/switchyard_ratelimit_store_errors_total\{route="lenient"\} 1/)
    expect(metrics).toMatch(/switchyard_ratelimit_store_errors_total\{route="strict"\} 1/)
    expect(gw.logs.some((l) => String(l.msg).includes('rate-limit store'))).toBe(true)
  })

  it('starts and fails open when Redis is unreachable from the start', async () => {
    const up = await res.upstream()
    const deadPort = await freePort()
    const gw = await res.gateway({
      rateLimit: { store: 'redis', redis: `redis://127.0.0.1:${deadPort}` },
      pools: { main: { backends: [up.url] } },
      routes: [{ name: 'r', match: { path: '/' }, pool: 'main', rateLimit: { max: 1, window: '1m' } }],
    })
    expect([(await send(`${gw.url}/a`)).status, (await send(`${gw.url}/a`)).status]).toEqual([200, 200])
    expect(up.requests).toHaveLength(2)
  })
})
