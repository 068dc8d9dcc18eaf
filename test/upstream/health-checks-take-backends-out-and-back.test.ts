import { afterEach, describe, expect, it } from 'vitest'
import { createPoolRegistry, type UpstreamPoolRegistry } from '../../src/upstream/index.js'
import type { UpstreamEvent } from '../../src/upstream/types.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { ctx, poolSettings } from './helpers.js'

let upstreams: TestUpstream[] = []
let registry: UpstreamPoolRegistry | undefined

afterEach(async () => {
  await registry?.close()
  registry = undefined
  await Promise.all(upstreams.map((u) => u.close()))
  upstreams = []
})

const healthCheck = { path: '/health', interval: 50, timeout: 1000, healthyThreshold: 2, unhealthyThreshold: 2, expectStatus: [[200, 299]] as const }

describe('active health checks', () => {
  it('take a backend answering a bad status out of rotation, and back once it recovers', async () => {
    let status = 200
    const sick = await startUpstream('sick', (req, res) => {
      res.writeHead(req.url === '/health' ? status : 200).end('ok')
    })
    const well = await startUpstream('well')
    upstreams = [sick, well]
    const events: UpstreamEvent[] = []
    registry = createPoolRegistry([poolSettings({ name: 'api', backends: upstreams.map((u) => ({ url: u.url, weight: 1 })), healthCheck })], {
      onEvent: (e) => events.push(e),
    })
    const pool = registry.get('api')!
    const [b] = pool.backends
    // Before the first verdict a backend counts as healthy.
    expect(b!.healthy).toBe(true)
    registry.start()
    await waitFor(() => sick.requests.some((r) => r.url === '/health'), 2000, 10, 'first probe')
    status = 503
    await waitFor(() => !b!.healthy, 2000, 10, 'backend marked down')
    expect(pool.hasAvailable()).toBe(true)
    for (let i = 0; i < 5; i++) expect([...pool.candidates(ctx())]).toEqual([pool.backends[1]])
    expect(events).toContainEqual({ type: 'health', pool: 'api', backend: sick.url, healthy: false, reason: 'status 503' })
    status = 200
    await waitFor(() => b!.healthy, 2000, 10, 'backend back up')
    expect(events.filter((e) => e.type === 'health').map((e) => (e as { healthy: boolean }).healthy)).toEqual([false, true])
    expect(new Set([pool.candidates(ctx()), pool.candidates(ctx())].map((it) => [...it][0]))).toEqual(new Set(pool.backends))
    expect(registry.snapshot()[0]!.backends.map((x) => x.healthy)).toEqual([true, true])
  })

  it('marks a backend that stops listening down, and up again when it listens on the same port', async () => {
    const u = await startUpstream('flappy')
    const port = u.port
    upstreams = [u]
    registry = createPoolRegistry([poolSettings({ name: 'api', backends: [{ url: u.url, weight: 1 }], healthCheck })])
    const b = registry.get('api')!.backends[0]!
    registry.start()
    await waitFor(() => u.requests.length > 0, 2000, 10, 'first probe')
    await u.close()
    await waitFor(() => !b.healthy, 2000, 10, 'backend marked down')
    expect(registry.get('api')!.hasAvailable()).toBe(false)
    upstreams = [await startUpstream('flappy', undefined, port)]
    await waitFor(() => b.healthy, 2000, 10, 'backend back up')
  })

  it('treats a probe slower than the timeout as failed', async () => {
    let delay = 0
    const u = await startUpstream('slow', (_req, res) => {
      setTimeout(() => res.writeHead(200).end('ok'), delay)
    })
    upstreams = [u]
    registry = createPoolRegistry([poolSettings({ name: 'api', backends: [{ url: u.url, weight: 1 }], healthCheck: { ...healthCheck, timeout: 100 } })])
    const b = registry.get('api')!.backends[0]!
    registry.start()
    delay = 400
    await waitFor(() => !b.healthy, 3000, 10, 'backend marked down by timeouts')
    delay = 0
    await waitFor(() => b.healthy, 3000, 10, 'backend back up')
  })

  it('stops probing on close (no timers or sockets left behind)', async () => {
    const u = await startUpstream('x')
    upstreams = [u]
    registry = createPoolRegistry([poolSettings({ name: 'api', backends: [{ url: u.url, weight: 1 }], healthCheck })])
    registry.start()
    await waitFor(() => u.requests.length >= 2, 2000, 10, 'probes')
    await registry.close()
    registry = undefined
    const seen = u.requests.length
    await new Promise((r) => setTimeout(r, 150))
    expect(u.requests.length).toBe(seen)
  })
})
