/**
 * Live rates for the dashboard: counter rates and histogram quantiles over a sliding window of
 * snapshots (pure, with explicit times), and GET /api/stats over real traffic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { quantile, rate, SnapshotWindow, type Snapshot } from '../../src/stats/window.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

function snap(at: number, counters: Record<string, number>, buckets: Record<string, [number, number][]> = {}): Snapshot {
  return {
    at,
    counters: new Map(Object.entries(counters)),
    histograms: new Map(Object.entries(buckets).map(([k, v]) => [k, new Map(v)])),
  }
}

describe('windowed rates', () => {
  it('rate is the counter increase per second against the oldest snapshot in the window', () => {
    const w = new SnapshotWindow(10_000)
    expect(w.push(snap(0, { r: 0 }))).toBeUndefined()
    w.push(snap(5_000, { r: 50 }))
    const now = snap(10_000, { r: 200 })
    const base = w.push(now)
    expect(base?.at).toBe(0)
    expect(rate(now, base, 'r')).toBe(20)
    // Older than the window: dropped.
    const later = snap(14_000, { r: 240 })
    const base2 = w.push(later)
    expect(base2?.at).toBe(5_000)
    expect(rate(later, base2, 'r')).toBeCloseTo(190 / 9, 6)
    expect(rate(later, undefined, 'r')).toBeNull()
  })

  it('a counter reset counts from zero instead of going negative', () => {
    expect(rate(snap(2_000, { r: 4 }), snap(0, { r: 100 }), 'r')).toBe(2)
  })

  it('quantile interpolates inside the bucket holding the rank (histogram_quantile)', () => {
    const base = snap(0, {}, { h: [[0.1, 0], [0.5, 0], [1, 0], [Infinity, 0]] })
    // 100 observations: 50 ≤ 0.1 s, 40 in (0.1, 0.5], 10 in (0.5, 1].
    const now = snap(1_000, {}, { h: [[0.1, 50], [0.5, 90], [1, 100], [Infinity, 100]] })
    expect(quantile(now, base, 'h', 0.5)).toBeCloseTo(0.1, 6)
    expect(quantile(now, base, 'h', 0.7)).toBeCloseTo(0.3, 6)
    expect(quantile(now, base, 'h', 0.99)).toBeCloseTo(0.95, 6)
    expect(quantile(now, now, 'h', 0.99)).toBeNull()
    const overflow = snap(1_000, {}, { h: [[0.1, 0], [0.5, 0], [1, 0], [Infinity, 5]] })
    expect(quantile(overflow, base, 'h', 0.99)).toBe(1)
  })
})

describe('GET /api/stats', () => {
  let ok: TestUpstream
  let failing: TestUpstream
  let gw: StartedGateway
  beforeAll(async () => {
    ok = await startUpstream('ok')
    failing = await startUpstream('failing', (_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{}')
    })
    gw = await startGateway({
      pools: { good: { backends: [ok.url] }, bad: { backends: [failing.url], retry: { attempts: 0 } } },
      routes: [
        { name: 'good', match: { path: '/good' }, pool: 'good' },
        { name: 'bad', match: { path: '/bad' }, pool: 'bad' },
      ],
    })
  })
  afterAll(async () => {
    await gw?.close()
    await ok?.close()
    await failing?.close()
  })

  const stats = async (): Promise<Record<string, any>> => (await (await request(`${gw.adminUrl}/api/stats`)).body.json()) as Record<string, any>

  it('has routes with splits, pools with backends, and null rates before a second look', async () => {
    const s = await stats()
    expect(s.windowSeconds).toBeNull()
    expect(s.routes.map((r: any) => [r.name, r.split])).toEqual([
      ['good', [{ pool: 'good', weight: 1 }]],
      ['bad', [{ pool: 'bad', weight: 1 }]],
    ])
    expect(s.pools[0]).toMatchObject({ name: 'good', algorithm: 'round-robin', fallback: null, healthCheck: false, requestRate: null })
    expect(s.pools[0].backends[0]).toMatchObject({ url: ok.url, healthy: true, circuit: 'closed', available: true, activeRequests: 0, requestRate: null, errorRate: null, p99: null })
    expect(s.reloads[0]).toMatchObject({ ok: true, version: 1 })
  })

  it('computes per-route and per-backend request rate, error rate and p99 from real traffic', async () => {
    await stats()
    for (let i = 0; i < 20; i++) await (await request(`${gw.url}/good/${i}`)).body.dump()
    for (let i = 0; i < 5; i++) await (await request(`${gw.url}/bad`)).body.dump()
    const s = (await waitFor(async () => {
      const x = await stats()
      return x.routes[0].requestRate > 0 ? x : undefined
    }, 3000, 50, 'rates'))!
    const good = s.routes.find((r: any) => r.name === 'good')
    const bad = s.routes.find((r: any) => r.name === 'bad')
    expect(good.errorRate).toBe(0)
    expect(bad.errorRate).toBe(1)
    expect(good.p99).toBeGreaterThan(0)
    const okBackend = s.pools.find((p: any) => p.name === 'good').backends[0]
    const badBackend = s.pools.find((p: any) => p.name === 'bad').backends[0]
    expect(okBackend.requestRate).toBeGreaterThan(0)
    expect(okBackend.errorRate).toBe(0)
    expect(badBackend.errorRate).toBe(1)
    expect(badBackend.p99).toBeGreaterThan(0)
    expect(s.totals.errorRate).toBeCloseTo(5 / 25, 2)
    expect(s.totals.inFlight).toBe(0)
  })
})
