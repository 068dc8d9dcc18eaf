/**
 * Several rate limits on one route (every one must pass; headers show the closest to refusing)
 * and the GCRA algorithm (a steady rate with a burst of max, no double burst at window edges),
 * over real sockets and with an injected clock.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError, normalizeConfig } from '../../src/config/index.js'
import { createMemoryGcraStore, gcraStep } from '../../src/ratelimit/gcra.js'
import { apiKeyHash } from '../../src/policies/api-key.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { redisAvailable, startRedis } from '../helpers/redis.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup(rateLimit: unknown): Promise<{ gw: StartedGateway; up: TestUpstream }> {
  const up = await startUpstream('up')
  cleanups.push(() => up.close())
  const gw = await startGateway({ pools: { main: { backends: [up.url] } }, routes: [{ name: 'api', match: { path: '/' }, pool: 'main', rateLimit }] })
  cleanups.push(() => gw.close())
  return { gw, up }
}

describe('several limits on a route', () => {
  it('refuses when any limit is spent, and shows the limit closest to refusing', async () => {
    const { gw, up } = await setup([
      { max: 100, window: '1s' },
      { max: 2, window: '1h' },
    ])
    const a = await fetch(`${gw.url}/x`)
    expect(a.status).toBe(200)
    expect(a.headers.get('ratelimit-limit')).toBe('2')
    expect(a.headers.get('ratelimit-remaining')).toBe('1')
    expect((await fetch(`${gw.url}/x`)).status).toBe(200)
    const refused = await fetch(`${gw.url}/x`)
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(3000)
    expect(await refused.json()).toMatchObject({ statusCode: 429 })
    expect(up.requests).toHaveLength(2)
  })

  it('config: each limit of the list is checked with its own path', () => {
    try {
      normalizeConfig({ pools: { p: { backends: ['http://127.0.0.1:9'] } }, routes: [{ name: 'r', pool: 'p', rateLimit: [{ max: 1, window: '1s' }, { max: 1, window: 0 }] }] })
      expect.unreachable()
    } catch (err) {
      expect((err as ConfigError).problems.map((p) => p.path)).toEqual(['routes[0].rateLimit[1].window'])
    }
  })
})

describe('per-consumer tiers', () => {
  it("an API key's name picks its own max; others get the route's", async () => {
    const up = await startUpstream('up')
    cleanups.push(() => up.close())
    const gw = await startGateway({
      pools: { main: { backends: [up.url] } },
      routes: [
        {
          name: 'api',
          match: { path: '/' },
          pool: 'main',
          apiKey: { keys: [{ name: 'gold', hash: `sha256:${apiKeyHash('k-gold')}` }, { name: 'free', hash: `sha256:${apiKeyHash('k-free')}` }] },
          rateLimit: { max: 1, window: '1h', key: 'apikey', tiers: { gold: 3 } },
        },
      ],
    })
    cleanups.push(() => gw.close())
    const as = (k: string) => fetch(`${gw.url}/x`, { headers: { 'x-api-key': k } })
    const gold = [await as('k-gold'), await as('k-gold'), await as('k-gold'), await as('k-gold')]
    expect(gold.map((r) => r.status)).toEqual([200, 200, 200, 429])
    expect(gold[0]!.headers.get('ratelimit-limit')).toBe('3')
    const free = [await as('k-free'), await as('k-free')]
    expect(free.map((r) => r.status)).toEqual([200, 429])
    expect(free[0]!.headers.get('ratelimit-limit')).toBe('1')
  })

  it('config: tiers need a consumer key', () => {
    try {
      normalizeConfig({ pools: { p: { backends: ['http://127.0.0.1:9'] } }, routes: [{ name: 'r', pool: 'p', rateLimit: { max: 1, window: '1s', tiers: { a: 2 } } }] })
      expect.unreachable()
    } catch (err) {
      expect((err as ConfigError).problems.map((p) => p.path)).toEqual(['routes[0].rateLimit.tiers'])
    }
  })
})

describe('GCRA', () => {
  it('allows a burst of max, then one request per window/max: no double burst at a window edge', () => {
    let now = 0
    const store = createMemoryGcraStore(100, () => now)
    const hit = () => {
      let out: { current: number; ttl: number } | undefined
      store.incr('k', (_e, r) => (out = r), 1000, 10)
      return out!
    }
    for (let i = 1; i <= 10; i++) expect(hit().current).toBe(i)
    const refused = hit()
    expect(refused.current).toBe(11)
    expect(refused.ttl).toBe(100) // the next slot frees in window / max
    // Just before and just after where a fixed window would reset: no second full burst.
    now = 999
    let allowed = 0
    while (hit().current <= 10) allowed++
    expect(allowed).toBe(9)
    // One more slot has freed by 1001 (one per 100 ms): 10 in [999, 1001], where a fixed window
    // resetting at 1000 would allow 20.
    now = 1001
    expect(hit().current).toBe(10)
    expect(hit().current).toBe(11)
    // A quiet client gets its whole burst back.
    now = 10_000
    expect(hit().current).toBe(1)
  })

  it('gcraStep is pure: a refusal leaves the state as it was', () => {
    const s = gcraStep(2000, 0, 1000, 10)
    expect(s.answer.current).toBe(11)
    expect(s.tat).toBe(2000)
  })

  it('over real sockets: 429 with Retry-After once the burst is spent', async () => {
    const { gw, up } = await setup({ max: 2, window: '1m', algorithm: 'gcra' })
    expect((await fetch(`${gw.url}/x`)).status).toBe(200)
    const second = await fetch(`${gw.url}/x`)
    expect(second.status).toBe(200)
    expect(second.headers.get('ratelimit-remaining')).toBe('0')
    const refused = await fetch(`${gw.url}/x`)
    expect(refused.status).toBe(429)
    const wait = Number(refused.headers.get('retry-after'))
    expect(wait).toBeGreaterThanOrEqual(29)
    expect(wait).toBeLessThanOrEqual(30)
    expect(up.requests).toHaveLength(2)
  })
})

const haveRedis = redisAvailable()

describe.runIf(haveRedis)('GCRA on Redis', () => {
  it('two gateways spend one GCRA budget kept in Redis (Lua on the server clock)', async () => {
    const redis = await startRedis()
    cleanups.push(() => redis.stop())
    const up = await startUpstream('up')
    cleanups.push(() => up.close())
    const config = {
      rateLimit: { store: 'redis', redis: redis.url },
      pools: { main: { backends: [up.url] } },
      routes: [{ name: 'api', match: { path: '/' }, pool: 'main', rateLimit: { max: 3, window: '1m', algorithm: 'gcra', key: 'route' } }],
    }
    const a = await startGateway(config)
    cleanups.push(() => a.close())
    const b = await startGateway(config)
    cleanups.push(() => b.close())
    const statuses = []
    for (const gw of [a, b, a, b]) statuses.push((await fetch(`${gw.url}/x`)).status)
    expect(statuses).toEqual([200, 200, 200, 429])
    expect(up.requests).toHaveLength(3)
  })
})
