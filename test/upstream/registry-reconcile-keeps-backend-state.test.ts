import { undiciPoolOf } from '../../src/proxy/transports/undici-http1.js'
import { afterEach, describe, expect, it } from 'vitest'
import { createPoolRegistry, PoolTlsCaError, type UpstreamPoolRegistry } from '../../src/upstream/index.js'
import type { UpstreamEvent } from '../../src/upstream/types.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { ManualClock, poolSettings } from './helpers.js'

let upstreams: TestUpstream[] = []
let registry: UpstreamPoolRegistry | undefined

afterEach(async () => {
  await registry?.close()
  registry = undefined
  await Promise.all(upstreams.map((u) => u.close()))
  upstreams = []
})

const circuitBreaker = { consecutiveFailures: 1, openDuration: 60_000, halfOpenRequests: 1, maxEjectionPercent: 100 }

describe('registry reconcile', () => {
  it('keeps backends that remain (connections, breaker, counts), applies new weights, adds and removes', async () => {
    upstreams = await Promise.all(['a', 'b', 'c'].map((n) => startUpstream(n)))
    const [a, b, c] = upstreams as [TestUpstream, TestUpstream, TestUpstream]
    const clock = new ManualClock()
    const events: UpstreamEvent[] = []
    registry = createPoolRegistry([poolSettings({ name: 'api', backends: [a, b].map((u) => ({ url: u.url, weight: 1 })), circuitBreaker })], {
      clock,
      onEvent: (e) => events.push(e),
    })
    const pool = registry.get('api')!
    const [ba, bb] = pool.backends as [(typeof pool.backends)[0], (typeof pool.backends)[0]]
    pool.acquire(bb)!.end('failure', 1, 'reset')
    expect(bb.breaker.state).toBe('open')
    const dispatcherB = undiciPoolOf(bb)

    // A request in flight on a backend that the reload removes.
    const lease = pool.acquire(ba)!
    const poolA = undiciPoolOf(ba)
    const inflight = poolA.request({ origin: ba.origin, path: '/slow', method: 'GET' })

    registry.reconcile([
      poolSettings({ name: 'api', algorithm: 'weighted-round-robin', backends: [{ url: b.url, weight: 5 }, { url: c.url, weight: 1 }], circuitBreaker }),
    ])
    expect(registry.get('api')).toBe(pool)
    expect(pool.algorithm).toBe('weighted-round-robin')
    expect(pool.backends.map((x) => x.origin)).toEqual([b.url, c.url])
    expect(pool.backends[0]).toBe(bb) // same object: state kept
    expect(bb.weight).toBe(5)
    expect(bb.breaker.state).toBe('open')
    expect(undiciPoolOf(bb)).toBe(dispatcherB)
    expect(pool.backends[1]!.availableSince).toBe(clock.now()) // added by a reload: ramps under slowStart
    expect(events.filter((e) => e.type.startsWith('backend-'))).toEqual([
      { type: 'backend-added', pool: 'api', backend: a.url },
      { type: 'backend-added', pool: 'api', backend: b.url },
      { type: 'backend-added', pool: 'api', backend: c.url },
      { type: 'backend-removed', pool: 'api', backend: a.url },
    ])

    // The removed backend takes no new requests but finishes the one in flight, then closes.
    expect(ba.isAvailable()).toBe(false)
    expect(pool.acquire(ba)).toBeNull()
    const res = await inflight
    expect(res.statusCode).toBe(200)
    await res.body.dump()
    expect(poolA.closed).toBe(false)
    lease.end('success', 1)
    await waitFor(() => poolA.destroyed, 2000, 10, 'removed backend closed')
    expect(undiciPoolOf(bb).closed).toBe(false)
  })

  it('removes pools that are gone and creates new ones', () => {
    registry = createPoolRegistry([poolSettings({ name: 'old', backends: [{ url: 'http://127.0.0.1:1', weight: 1 }] })])
    const oldBackend = registry.get('old')!.backends[0]!
    registry.reconcile([poolSettings({ name: 'new', backends: [{ url: 'http://127.0.0.1:2', weight: 1 }], fallback: 'other' })])
    expect(registry.get('old')).toBeUndefined()
    expect(registry.all().map((p) => p.name)).toEqual(['new'])
    expect(registry.get('new')!.fallback).toBe('other')
    expect(oldBackend.retired).toBe(true)
  })

  it('changes nothing when the new configuration cannot be applied (unreadable tls.ca)', () => {
    registry = createPoolRegistry([poolSettings({ name: 'api', backends: [{ url: 'http://127.0.0.1:1', weight: 1 }] })])
    const before = registry.get('api')!.backends
    expect(() =>
      registry!.reconcile([
        poolSettings({ name: 'api', backends: [{ url: 'https://127.0.0.1:2', weight: 1 }] }),
        poolSettings({ name: 'tls', backends: [{ url: 'https://127.0.0.1:3', weight: 1 }], tls: { ca: '/nonexistent/ca.pem', rejectUnauthorized: true } }),
      ]),
    ).toThrow(PoolTlsCaError)
    expect(registry.get('api')!.backends).toBe(before)
    expect(registry.get('tls')).toBeUndefined()
  })

  it('keeps health verdicts across a reload and starts probing new backends when running', async () => {
    let status = 503
    const sick = await startUpstream('sick', (_req, res) => {
      res.writeHead(status).end()
    })
    const fresh = await startUpstream('fresh')
    upstreams = [sick, fresh]
    const healthCheck = { path: '/h', interval: 40, timeout: 500, healthyThreshold: 1, unhealthyThreshold: 1, expectStatus: [[200, 299]] as const }
    registry = createPoolRegistry([poolSettings({ name: 'api', backends: [{ url: sick.url, weight: 1 }], healthCheck })])
    registry.start()
    const b = registry.get('api')!.backends[0]!
    await waitFor(() => !b.healthy, 2000, 10, 'down')
    registry.reconcile([poolSettings({ name: 'api', backends: [{ url: sick.url, weight: 2 }, { url: fresh.url, weight: 1 }], healthCheck })])
    expect(registry.get('api')!.backends[0]).toBe(b)
    expect(b.healthy).toBe(false)
    await waitFor(() => fresh.requests.some((r) => r.url === '/h'), 2000, 10, 'new backend probed')
    // Dropping the health check makes every backend healthy again.
    registry.reconcile([poolSettings({ name: 'api', backends: [{ url: sick.url, weight: 2 }] })])
    expect(b.healthy).toBe(true)
    status = 200
  })
})
