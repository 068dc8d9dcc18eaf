/**
 * `server.workers: 2` with the memory cache: one cache for the process (the main thread's
 * store, src/cache/shared-store.ts). A response stored through one worker is a hit on the
 * other, the byte bound is one for the process, an admin purge empties it for every worker,
 * concurrent misses on both workers fetch once, and a worker that dies and is replaced finds the
 * cache as it was.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { request } from 'undici'
import { createSupervisor, type Supervisor } from '../../src/workers/supervisor.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

const root = resolve(import.meta.dirname, '../..')
let sup: Supervisor | undefined
let up: TestUpstream | undefined
afterEach(async () => {
  await sup?.close()
  sup = undefined
  await up?.close()
  up = undefined
})

/** A cacheable upstream: `size` bytes per answer, tagged with the path's first segment. */
async function cacheable(size = 16): Promise<TestUpstream> {
  return startUpstream('a', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60', 'cache-tag': req.url!.split('/')[1]! })
    res.end('x'.repeat(size))
  })
}

async function start(cache: Record<string, unknown> = {}): Promise<Supervisor> {
  expect(existsSync(resolve(root, 'dist/src/workers/worker-main.js')), 'dist/ missing: npm test builds it (pretest)').toBe(true)
  sup = await createSupervisor({
    document: {
      server: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      cache,
      pools: { main: { backends: [up!.url] } },
      routes: [{ name: 'cached', match: { path: '/' }, pool: 'main', cache: { ttl: '60s' } }],
    },
    count: 2,
    restartDelayMs: 20,
  })
  await sup.listen()
  return sup
}

/** A request on a connection of its own, so requests spread over the workers. */
async function fresh(url: string, headers: Record<string, string> = {}): Promise<{ status: number; cacheStatus: string }> {
  const res = await request(url, { headers: { connection: 'close', ...headers } })
  await res.body.text()
  return { status: res.statusCode, cacheStatus: String(res.headers['cache-status']) }
}

async function workerRequests(s: Supervisor): Promise<number[]> {
  return ((await (await request(`${s.gateway.adminUrl}/api/workers`)).body.json()) as { requests: number }[]).map((w) => w.requests)
}

/**
 * Fresh-connection requests to `url` until every worker has answered at least one of them
 * (the kernel picks the worker per connection); resolves every answer.
 */
async function onEveryWorker(s: Supervisor, url: string, headers: Record<string, string> = {}): Promise<{ status: number; cacheStatus: string }[]> {
  const before = await workerRequests(s)
  const out: { status: number; cacheStatus: string }[] = []
  const until = performance.now() + 10_000
  for (let i = 0; performance.now() < until; i++) {
    out.push(await fresh(url, headers))
    if (i % 4 === 3 && (await workerRequests(s)).every((n, w) => n > before[w]!)) return out
  }
  throw new Error('connections did not reach both workers')
}

async function metric(s: Supervisor, name: string): Promise<number> {
  const text = await (await request(`${s.gateway.adminUrl}/metrics`)).body.text()
  const lines = text.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
  expect(lines.length, `${name}: one series for the process`).toBe(1)
  return Number(lines[0]!.split(' ').pop())
}

describe('server.workers: 2 with the memory cache', { timeout: 30_000 }, () => {
  it('serves a response stored through one worker as a hit from the other', async () => {
    up = await cacheable()
    const s = await start()
    expect((await fresh(`${s.url}/one`)).cacheStatus).toBe('switchyard; fwd=miss; stored')
    const answers = await onEveryWorker(s, `${s.url}/one`)
    expect(answers.map((a) => a.cacheStatus)).toEqual(answers.map(() => 'switchyard; hit'))
    expect(up.requests.length).toBe(1)
    expect(await metric(s, 'switchyard_cache_entries')).toBe(1)
  })

  it('holds one maxSize for the process, filled through both workers', async () => {
    up = await cacheable(4096)
    const maxSize = 64 * 1024
    const s = await start({ maxSize: '64kb', maxEntrySize: '8kb' })
    const before = await workerRequests(s)
    // 40 × (4 KiB + the per-entry overhead) is about three times maxSize.
    for (let i = 0; i < 40; i++) expect((await fresh(`${s.url}/fill/${i}`)).status).toBe(200)
    expect((await workerRequests(s)).every((n, w) => n > before[w]!)).toBe(true)
    const bytes = await metric(s, 'switchyard_cache_bytes')
    expect(bytes).toBeGreaterThan(maxSize / 2)
    expect(bytes).toBeLessThanOrEqual(maxSize)
    expect(await metric(s, 'switchyard_cache_evictions_total')).toBeGreaterThan(0)
    // The most recent fill is still there, for every worker.
    const last = await onEveryWorker(s, `${s.url}/fill/39`)
    expect(new Set(last.map((a) => a.cacheStatus))).toEqual(new Set(['switchyard; hit']))
  })

  it('purges through the admin API for every worker', async () => {
    up = await cacheable()
    const s = await start()
    await fresh(`${s.url}/users/1`)
    await fresh(`${s.url}/orders/1`)
    const res = await request(`${s.gateway.adminUrl}/api/cache/purge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tag: 'users' }) })
    expect(await res.body.json()).toEqual({ purged: 1 })
    // only-if-cached: answered from the cache or 504, never from the upstream.
    const purged = await onEveryWorker(s, `${s.url}/users/1`, { 'cache-control': 'only-if-cached' })
    expect(purged.map((a) => a.status)).toEqual(purged.map(() => 504))
    const kept = await onEveryWorker(s, `${s.url}/orders/1`, { 'cache-control': 'only-if-cached' })
    expect(kept.map((a) => a.status)).toEqual(kept.map(() => 200))
    expect(up.requests.length).toBe(2)
  })

  it('fetches a key once for concurrent misses on both workers', async () => {
    let release: () => void = () => undefined
    const held = new Promise<void>((r) => (release = r))
    up = await startUpstream('a', async (_req, res) => {
      await held
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' }).end('slow')
    })
    const s = await start()
    const before = await workerRequests(s)
    // 16 connections at once: the kernel spreads them over both workers (checked below).
    const all = Promise.all(Array.from({ length: 16 }, () => fresh(`${s.url}/slow`)))
    await waitFor(() => up!.requests.length > 0, 5000, 5, 'the first fill')
    // Time for the other worker's miss to join the fill (arriving later, it would be a hit anyway).
    await new Promise((r) => setTimeout(r, 200))
    release()
    const answers = await all
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200))
    expect(up.requests.length).toBe(1)
    expect(answers.filter((a) => a.cacheStatus === 'switchyard; fwd=miss; stored').length).toBe(1)
    expect((await workerRequests(s)).every((n, w) => n > before[w]!)).toBe(true)
  })

  it('keeps the cache when a worker dies: its replacement gets hits', async () => {
    up = await cacheable()
    const s = await start()
    await fresh(`${s.url}/kept`)
    const dying = s.threads[1]!
    await dying.terminate()
    await waitFor(async () => {
      // A view with a heap figure is the replacement's own answer: it is listening.
      const views = (await (await request(`${s.gateway.adminUrl}/api/workers`)).body.json()) as { restarts: number; threadId: number; heapUsedBytes: number }[]
      return views[1]!.restarts === 1 && views[1]!.threadId !== dying.threadId && views[1]!.heapUsedBytes > 0
    }, 10_000, 20, 'the replacement worker')
    const answers = await onEveryWorker(s, `${s.url}/kept`)
    expect(answers.map((a) => a.cacheStatus)).toEqual(answers.map(() => 'switchyard; hit'))
    expect(up.requests.length).toBe(1)
  })
})
