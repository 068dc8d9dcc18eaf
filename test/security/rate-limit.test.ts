/**
 * Rate limiting over real sockets (memory store): 429 with the SPEC body and Retry-After,
 * RateLimit-* on every response, buckets per route and key (not per URL spelling), client IPs
 * that a spoofed X-Forwarded-For cannot change, IPv6 /64 grouping, and the order of checks (a
 * limited request costs no upstream call and no JWT verification).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Resources, send } from './harness.js'
import { hs256, SECRET, unsigned } from './tokens.js'

const res = new Resources()
afterEach(() => res.closeAll())

function limited(backend: string, rateLimit: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    pools: { main: { backends: [backend] } },
    routes: [
      { name: 'users', match: { path: '/api/users' }, pool: 'main', rateLimit: { window: '1m', ...rateLimit }, ...extra },
      { name: 'open', match: { path: '/' }, pool: 'main' },
    ],
  }
}

describe('429 and RateLimit headers', () => {
  it('counts down in RateLimit-Remaining, then answers 429 with Retry-After and sends nothing upstream', async () => {
    const up = await res.upstream()
    const gw = await res.gateway(limited(up.url, { max: 3 }))
    const seen: (string | string[] | undefined)[] = []
    for (let i = 0; i < 3; i++) {
      const r = await send(`${gw.url}/api/users/1`)
      expect(r.status).toBe(200)
      expect(r.headers['ratelimit-limit']).toBe('3')
      expect(Number(r.headers['ratelimit-reset'])).toBeGreaterThan(0)
      expect(Number(r.headers['ratelimit-reset'])).toBeLessThanOrEqual(60)
      seen.push(r.headers['ratelimit-remaining'])
    }
    expect(seen).toEqual(['2', '1', '0'])
    const r = await send(`${gw.url}/api/users/1`)
    expect(r.status).toBe(429)
    expect(r.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' })
    expect(String(r.body?.message)).toMatch(/rate limit exceeded/)
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(r.headers['ratelimit-limit']).toBe('3')
    expect(r.headers['ratelimit-remaining']).toBe('0')
    expect(up.requests).toHaveLength(3)
    // Unlimited routes carry no RateLimit headers and are not counted.
    const open = await send(`${gw.url}/other`)
    expect(open.status).toBe(200)
    expect(open.headers['ratelimit-limit']).toBeUndefined()
    expect(await gw.metrics.registry.metrics()).toMatch(/switchyard_ratelimit_rejected_total\{route="users"\} 1/)
  })

  it("keeps the gateway's RateLimit headers when the upstream sends its own", async () => {
    const up = await res.upstream()
    up.setHandler((_req, r) => {
      r.writeHead(200, { 'ratelimit-limit': '9999', 'ratelimit-remaining': '9999', 'ratelimit-reset': '1', 'content-type': 'text/plain' })
      r.end('ok')
    })
    const gw = await res.gateway(limited(up.url, { max: 5 }))
    const r = await send(`${gw.url}/api/users`)
    expect(r.status).toBe(200)
    expect(r.headers['ratelimit-limit']).toBe('5')
    expect(r.headers['ratelimit-remaining']).toBe('4')
  })

  it('puts RateLimit headers on error answers of a limited route too', async () => {
    const gw = await res.gateway(limited('http://127.0.0.1:9', { max: 5 }))
    const r = await send(`${gw.url}/api/users`)
    expect(r.status).toBeGreaterThanOrEqual(502)
    expect(r.headers['ratelimit-limit']).toBe('5')
    expect(r.headers['ratelimit-remaining']).toBe('4')
  })
})

describe('bucket keys', () => {
  it('counts spelling variants of one path in one bucket', async () => {
    const up = await res.upstream()
    const gw = await res.gateway(limited(up.url, { max: 5 }))
    const spellings = ['/api/users/7', '//api//users/7', '/api/./users/7', '/api/x/../users/7', '/api/%75sers/%37']
    for (const p of spellings) expect((await send(`${gw.url}${p}`)).status, p).toBe(200)
    for (const p of [...spellings, '/api/users/8']) expect((await send(`${gw.url}${p}`)).status, p).toBe(429)
    expect(up.requests).toHaveLength(5)
    expect(new Set(up.requests.map((q) => q.url))).toEqual(new Set(['/api/users/7']))
  })

  it('ignores X-Forwarded-For from an untrusted peer', async () => {
    const up = await res.upstream()
    const gw = await res.gateway(limited(up.url, { max: 2 }))
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) {
      const r = await send(`${gw.url}/api/users`, { headers: { 'x-forwarded-for': `198.51.100.${i}`, 'x-real-ip': `198.51.100.${i}`, forwarded: `for=198.51.100.${i}` } })
      statuses.push(r.status)
    }
    expect(statuses).toEqual([200, 200, 429, 429, 429])
    expect(up.requests).toHaveLength(2)
    // The upstream saw the real peer, not the spoofed chain.
    expect(up.requests.map((q) => q.headers['x-forwarded-for'])).toEqual(['127.0.0.1', '127.0.0.1'])
    expect(up.requests.every((q) => q.headers['x-real-ip'] === undefined && q.headers.forwarded === undefined)).toBe(true)
  })

  it('believes X-Forwarded-For from a trusted proxy, grouping IPv6 clients by /64', async () => {
    const up = await res.upstream()
    const gw = await res.gateway({ ...limited(up.url, { max: 2 }), server: { trustedProxies: ['127.0.0.1'] } })
    const from = (ip: string) => send(`${gw.url}/api/users`, { headers: { 'x-forwarded-for': ip } })
    // Two IPv4 clients behind the proxy: two budgets.
    expect([(await from('198.51.100.1')).status, (await from('198.51.100.1')).status, (await from('198.51.100.1')).status]).toEqual([200, 200, 429])
    expect((await from('198.51.100.2')).status).toBe(200)
    // Addresses of one /64 share a budget; the next /64 has its own.
    expect((await from('2001:db8:0:1::1')).status).toBe(200)
    expect((await from('2001:db8:0:1:ffff:ffff:ffff:fffe')).status).toBe(200)
    expect((await from('2001:db8:0:1::abcd')).status).toBe(429)
    expect((await from('2001:db8:0:2::1')).status).toBe(200)
  })

  it('keys on a header, and a request without it falls back to its IP bucket', async () => {
    const up = await res.upstream()
    const gw = await res.gateway(limited(up.url, { max: 1, key: 'header:x-api-key' }))
    const withKey = (k?: string) => send(`${gw.url}/api/users`, { headers: k ? { 'x-api-key': k } : {} })
    expect([(await withKey('a')).status, (await withKey('a')).status, (await withKey('b')).status]).toEqual([200, 429, 200])
    expect([(await withKey()).status, (await withKey()).status]).toEqual([200, 429])
  })

  it('route key: one budget for all clients of the route', async () => {
    const up = await res.upstream()
    const gw = await res.gateway({ ...limited(up.url, { max: 2, key: 'route' }), server: { trustedProxies: ['127.0.0.1'] } })
    const from = (ip: string) => send(`${gw.url}/api/users`, { headers: { 'x-forwarded-for': ip } })
    expect([(await from('192.0.2.1')).status, (await from('192.0.2.2')).status, (await from('192.0.2.3')).status]).toEqual([200, 200, 429])
  })
})

describe('IPv6 clients on a real IPv6 socket', () => {
  it('limit a client connecting over ::1 in its /64 bucket', async () => {
    const up = await res.upstream()
    const gw = await res.gateway({ ...limited(up.url, { max: 2 }), server: { host: '::1' } })
    expect(gw.url).toMatch(/^http:\/\/\[::1\]:/)
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) statuses.push((await send(`${gw.url}/api/users`)).status)
    expect(statuses).toEqual([200, 200, 429])
    expect(up.requests.map((q) => q.headers['x-forwarded-for'])).toEqual(['::1', '::1'])
  })
})

describe('order of checks', () => {
  it('refuses an over-budget request with 429 before verifying its token', async () => {
    const up = await res.upstream()
    const gw = await res.gateway({ jwt: { algorithms: ['HS256'], secret: SECRET }, ...limited(up.url, { max: 1 }, { jwt: true }) })
    const good = hs256({ sub: 'alice' })
    expect((await send(`${gw.url}/api/users`, { headers: { authorization: `Bearer ${good}` } })).status).toBe(200)
    const forged = await send(`${gw.url}/api/users`, { headers: { authorization: `Bearer ${unsigned({ sub: 'x' })}` } })
    expect(forged.status).toBe(429)
    expect(await gw.metrics.registry.metrics()).not.toMatch(/switchyard_jwt_rejected_total\{/)
    expect(up.requests).toHaveLength(1)
  })

  it('verifies first when the key is a claim, and gives each subject its own budget', async () => {
    const up = await res.upstream()
    const gw = await res.gateway({ jwt: { algorithms: ['HS256'], secret: SECRET }, ...limited(up.url, { max: 1, key: 'jwt:sub' }, { jwt: true }) })
    const as = (sub: string) => send(`${gw.url}/api/users`, { headers: { authorization: `Bearer ${hs256({ sub })}` } })
    expect([(await as('alice')).status, (await as('alice')).status, (await as('bob')).status]).toEqual([200, 429, 200])
    // A bad token is a 401 (verified first), and does not spend anyone's budget.
    const forged = await send(`${gw.url}/api/users`, { headers: { authorization: `Bearer ${unsigned({ sub: 'carol' })}` } })
    expect(forged.status).toBe(401)
    expect((await as('carol')).status).toBe(200)
    expect(up.requests).toHaveLength(3)
  })
})
