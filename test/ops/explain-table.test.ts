/**
 * POST /api/explain against a table of requests on a running gateway with real upstreams, and
 * cross-checks with real traffic: the cohort and the first candidate explain reports are where
 * real requests land, and explaining does not move the round-robin rotation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

let ups: TestUpstream[] = []
let dead: TestUpstream
let gw: StartedGateway

beforeAll(async () => {
  ups = await Promise.all(['u1', 'u2', 'u3', 'static'].map((n) => startUpstream(n)))
  dead = await startUpstream('dead', (req, res) => {
    res.writeHead(req.url === '/health' ? 503 : 200).end()
  })
  const [u1, u2, u3, st] = ups.map((u) => u.url)
  gw = await startGateway({
    jwt: { algorithms: ['HS256'], secret: 'explain-test-secret-of-at-least-32-bytes' },
    pools: {
      v1: { backends: [u1, u2], fallback: 'static' },
      v2: { backends: [u3] },
      static: { backends: [st] },
      hashy: { algorithm: 'consistent-hash', hashOn: 'header:x-user-id', backends: [u1, u2, u3] },
      legacy: { backends: [dead.url], healthCheck: { path: '/health', interval: '50ms', timeout: '1s', unhealthyThreshold: 1, healthyThreshold: 1 }, fallback: 'static' },
    },
    routes: [
      { name: 'admin-only', match: { path: '/admin', headers: { 'x-role': 'admin' } }, pool: 'v2' },
      {
        name: 'users',
        match: { path: '/api/users', methods: ['GET', 'POST'] },
        rewritePrefix: '/users',
        split: [
          { pool: 'v1', weight: 90 },
          { pool: 'v2', weight: 10 },
        ],
        sticky: 'header:x-user-id',
        override: 'x-switchyard-pool',
        rateLimit: { max: 1000, window: '1m', key: 'header:x-api-key' },
      },
      { name: 'orders', match: { pathExact: '/api/orders', host: 'api.example.com' }, pool: 'hashy', cache: { ttl: '30s' } },
      { name: 'account', match: { path: '/api/account' }, pool: 'v1', jwt: { required: true, claims: { scope: 'read' }, forwardClaims: { sub: 'x-user-id' } } },
      { name: 'legacy', match: { path: '/legacy' }, pool: 'legacy' },
      { name: 'hashed', match: { path: '/hashed' }, pool: 'hashy' },
    ],
  })
})

afterAll(async () => {
  await gw?.close()
  await Promise.all([...ups, dead].map((u) => u?.close()))
})

type Answer = Record<string, any>

async function explain(body: unknown): Promise<{ status: number; json: Answer }> {
  const res = await request(`${gw.adminUrl}/api/explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.statusCode, json: (await res.body.json()) as Answer }
}

const upstreamName = (url: string): string => ups.find((u) => u.url === url)?.name ?? url

interface Row {
  readonly name: string
  readonly req: Record<string, unknown>
  readonly expect: (a: Answer) => void
}

const table: Row[] = [
  {
    name: 'sticky split: route, earlier mismatch, rewrite, cohort and scores',
    req: { method: 'GET', host: 'api.example.com', path: '/api/users/7', headers: { 'x-user-id': 'alice' } },
    expect: (a) => {
      expect(a.outcome.action).toBe('forward')
      expect(a.routes).toEqual([
        { name: 'admin-only', index: 0, matched: false, reason: 'path /api/users/7 does not start with /admin' },
        { name: 'users', index: 1, matched: true },
      ])
      expect(a.route).toBe('users')
      expect(a.upstreamPath).toBe('/users/7')
      expect(a.split.reason).toBe('sticky')
      expect(a.split.sticky).toMatchObject({ source: 'header:x-user-id', key: 'alice' })
      expect(a.split.sticky.cohort).toBe(a.split.pool)
      const scores = a.split.sticky.scores as Record<string, number>
      const best = Object.entries(scores).sort((x, y) => y[1] - x[1])[0]![0]
      expect(best).toBe(a.split.pool)
      expect(a.split.targets).toEqual([
        { pool: 'v1', weight: 90, share: 0.9 },
        { pool: 'v2', weight: 10, share: 0.1 },
      ])
    },
  },
  {
    name: 'earlier route fails on a header condition',
    req: { method: 'GET', host: 'h', path: '/admin/x', headers: { 'x-role': 'guest' } },
    expect: (a) => {
      expect(a.routes[0]).toEqual({ name: 'admin-only', index: 0, matched: false, reason: 'header x-role is "guest", not "admin"' })
      expect(a.outcome).toEqual({ action: 'reject', status: 404, message: 'no route matches GET /admin/x' })
      expect(a.routes.map((r: Answer) => r.matched)).toEqual([false, false, false, false, false, false])
    },
  },
  {
    name: 'override header picks the pool; candidates with health and circuit',
    req: { method: 'POST', host: 'h', path: '/api/users', headers: { 'x-switchyard-pool': 'v2' } },
    expect: (a) => {
      expect(a.split).toMatchObject({ pool: 'v2', reason: 'override', override: { header: 'x-switchyard-pool', value: 'v2' } })
      expect(a.upstreamPath).toBe('/users')
      expect(a.pools).toHaveLength(1)
      expect(a.pools[0]).toMatchObject({ pool: 'v2', role: 'split', algorithm: 'round-robin', fallback: null, unavailable: [] })
      expect(a.pools[0].candidates).toEqual([{ url: ups[2]!.url, weight: 1, healthy: true, circuit: 'closed', activeRequests: 0, available: true }])
      expect(a.backend).toEqual({ pool: 'v2', url: ups[2]!.url, fallbackUsed: false })
    },
  },
  {
    name: 'path normalisation before matching and rewriting',
    req: { method: 'GET', host: 'h', path: '/api//users/./7/../8?x=1&y=2', headers: { 'x-user-id': 'bob' } },
    expect: (a) => {
      expect(a.request).toMatchObject({ path: '/api/users/8', query: 'x=1&y=2' })
      expect(a.upstreamPath).toBe('/users/8')
      expect(a.outcome.message).toMatch(/\/users\/8\?x=1&y=2$/)
    },
  },
  {
    name: 'method not allowed by the only path match: 404 with the reason',
    req: { method: 'DELETE', host: 'h', path: '/api/users/1' },
    expect: (a) => {
      expect(a.routes[1]).toEqual({ name: 'users', index: 1, matched: false, reason: 'method DELETE not in GET, POST, HEAD' })
      expect(a.outcome.status).toBe(404)
      expect(a.route).toBeNull()
    },
  },
  {
    name: 'host condition and cache key',
    req: { method: 'GET', host: 'API.example.com:8080', path: '/api/orders', headers: { 'x-user-id': 'bob' } },
    expect: (a) => {
      expect(a.route).toBe('orders')
      expect(a.pools[0]).toMatchObject({ pool: 'hashy', algorithm: 'consistent-hash', hashKey: 'bob', order: 'exact' })
      expect(a.pools[0].candidates).toHaveLength(3)
      expect(a.cache.primaryKey).toBe('GET http://api.example.com:8080/api/orders')
      expect(a.cache.bypass).toBeNull()
      expect(a.cache.key.split('\n').slice(0, 3)).toEqual(['GET http://api.example.com:8080/api/orders', 'orders', 'hashy'])
      expect(a.rateLimit).toBeNull()
    },
  },
  {
    name: 'cache bypass reason',
    req: { method: 'GET', host: 'api.example.com', path: '/api/orders', headers: { range: 'bytes=0-1' } },
    expect: (a) => {
      expect(a.cache).toMatchObject({ key: null, bypass: 'range' })
    },
  },
  {
    name: 'wrong host',
    req: { method: 'GET', host: 'other.example.com', path: '/api/orders' },
    expect: (a) => {
      expect(a.routes[2]).toEqual({ name: 'orders', index: 2, matched: false, reason: 'host other.example.com is not api.example.com' })
    },
  },
  {
    name: 'rate-limit key: route name + header value, IP when the header is absent',
    req: { method: 'GET', host: 'h', path: '/api/users', headers: { 'x-api-key': 'k1' } },
    expect: (a) => {
      expect(a.rateLimit).toEqual({ key: '5:users|h:k1', source: 'header:x-api-key', max: 1000, windowMs: 60000 })
    },
  },
  {
    name: 'rate-limit key falls back to the client IP',
    req: { method: 'GET', host: 'h', path: '/api/users', clientIp: '203.0.113.9' },
    expect: (a) => {
      expect(a.rateLimit.key).toBe('5:users|ip:203.0.113.9')
      expect(a.request.clientIp).toBe('203.0.113.9')
    },
  },
  {
    name: 'JWT route without claims: 401',
    req: { method: 'GET', host: 'h', path: '/api/account' },
    expect: (a) => {
      expect(a.jwt).toEqual({ required: true, verdict: 'missing-token' })
      expect(a.outcome.status).toBe(401)
    },
  },
  {
    name: 'JWT route with claims lacking the required one: 403',
    req: { method: 'GET', host: 'h', path: '/api/account', claims: { scope: 'write', sub: 'u1' } },
    expect: (a) => {
      expect(a.jwt).toEqual({ required: true, verdict: 'missing-claim', claim: 'scope' })
      expect(a.outcome.status).toBe(403)
    },
  },
  {
    name: 'JWT route with good claims: forwarded claim headers',
    req: { method: 'GET', host: 'h', path: '/api/account', claims: { scope: 'read profile', sub: 'u1' } },
    expect: (a) => {
      expect(a.jwt).toEqual({ required: true, verdict: 'ok', forwardHeaders: { 'x-user-id': 'u1' } })
      expect(a.outcome.action).toBe('forward')
    },
  },
  {
    name: 'malformed target: 400',
    req: { method: 'GET', host: 'h', path: '/a%2Fb' },
    expect: (a) => {
      expect(a.outcome.status).toBe(400)
      expect(a.routes).toEqual([])
    },
  },
]

describe('POST /api/explain', () => {
  for (const row of table) {
    it(row.name, async () => {
      const { status, json } = await explain(row.req)
      expect(status).toBe(200)
      row.expect(json)
    })
  }

  it('the sticky cohort explain reports is the pool real requests of that key reach', async () => {
    for (const user of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) {
      const { json } = await explain({ method: 'GET', host: 'h', path: '/api/users/1', headers: { 'x-user-id': user } })
      const res = await request(`${gw.url}/api/users/1`, { headers: { 'x-user-id': user } })
      const served = ((await res.body.json()) as { upstream: string }).upstream
      expect(json.split.sticky.cohort === 'v2' ? served === 'u3' : ['u1', 'u2'].includes(served), `${user} → ${json.split.sticky.cohort}, served by ${served}`).toBe(true)
    }
  })

  it('consistent-hash: the first candidate is the backend that serves the key', async () => {
    for (const user of ['k1', 'k2', 'k3', 'k4']) {
      // An uncached route: a cached answer would not show which backend the key maps to.
      const { json } = await explain({ method: 'GET', host: 'h', path: '/hashed', headers: { 'x-user-id': user } })
      expect(json.pools[0].order).toBe('exact')
      const res = await request(`${gw.url}/hashed`, { headers: { 'x-user-id': user } })
      const served = ((await res.body.json()) as { upstream: string }).upstream
      expect(served).toBe(upstreamName(json.backend.url))
    }
  })

  it('explaining does not advance the round-robin rotation, and names the next backend', async () => {
    const served = async (): Promise<string> => {
      const res = await request(`${gw.url}/api/users/1`, { headers: { 'x-switchyard-pool': 'v1' } })
      return ((await res.body.json()) as { upstream: string }).upstream
    }
    await served()
    let next = ''
    for (let i = 0; i < 5; i++) {
      const { json } = await explain({ method: 'GET', host: 'h', path: '/api/users/1', headers: { 'x-switchyard-pool': 'v1' } })
      expect(json.pools[0].order).toBe('exact')
      next ||= upstreamName(json.backend.url)
      expect(upstreamName(json.backend.url)).toBe(next)
    }
    expect(await served()).toBe(next)
  })

  it('a backend down by its health check shows why, and the fallback chain takes over', async () => {
    await waitFor(() => gw.pools.get('legacy')!.backends[0]!.healthy === false, 5000, 20, 'legacy backend marked down')
    const { json } = await explain({ method: 'GET', host: 'h', path: '/legacy/x' })
    expect(json.pools.map((p: Answer) => [p.pool, p.role])).toEqual([
      ['legacy', 'split'],
      ['static', 'fallback'],
    ])
    expect(json.pools[0].candidates).toEqual([])
    expect(json.pools[0].unavailable).toEqual([{ url: dead.url, weight: 1, healthy: false, circuit: 'closed', activeRequests: 0, available: false, reason: 'health check failing' }])
    expect(json.backend).toEqual({ pool: 'static', url: ups[3]!.url, fallbackUsed: true })
    const before = dead.requests.filter((r) => r.url !== '/health').length
    expect(before).toBe(0)
  })

  it('sends nothing upstream', async () => {
    const counts = ups.map((u) => u.requests.length)
    for (const row of table) await explain(row.req)
    expect(ups.map((u) => u.requests.length)).toEqual(counts)
  })

  it('rejects bad bodies with 400 JSON naming the problem', async () => {
    for (const body of [{}, { method: 'GET', host: 'h' }, { method: 'GET', host: 'h', path: '/', extra: 1 }, { method: 5, host: 'h', path: '/' }, { method: 'GET', host: 'h', path: '/', headers: { 'bad name': 'x' } }, { method: 'GET', host: 'h', path: '/', headers: { a: 1 } }]) {
      const { status, json } = await explain(body)
      expect(status, JSON.stringify(body)).toBe(400)
      expect(json).toMatchObject({ statusCode: 400, error: 'Bad Request' })
      expect(typeof json.message).toBe('string')
    }
    const res = await request(`${gw.adminUrl}/api/explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' })
    expect(res.statusCode).toBe(400)
    expect(await res.body.json()).toMatchObject({ statusCode: 400, error: 'Bad Request' })
  })
})
