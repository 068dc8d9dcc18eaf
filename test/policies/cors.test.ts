/**
 * CORS per route over real sockets: preflights answered by the gateway (204, never forwarded),
 * refused preflights 403 JSON, allow headers and `Vary: Origin` on actual responses (appended to
 * the upstream's Vary), on the gateway's own error answers too, patterns, credentials.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError, normalizeConfig } from '../../src/config/index.js'
import { compileOriginMatcher } from '../../src/policies/cors.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup(cors: Record<string, unknown>, route: Record<string, unknown> = {}): Promise<{ gw: StartedGateway; up: TestUpstream }> {
  const up = await startUpstream('up', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', vary: 'Accept-Encoding', 'x-total': '3' })
    res.end('{"ok":true}')
  })
  cleanups.push(() => up.close())
  const gw = await startGateway({ pools: { main: { backends: [up.url] } }, routes: [{ name: 'api', match: { path: '/api' }, pool: 'main', cors, ...route }] })
  cleanups.push(() => gw.close())
  return { gw, up }
}

const APP = 'https://app.example.com'

describe('CORS', () => {
  it('answers a preflight at the gateway with 204 and the allow headers, never forwarding it', async () => {
    const { gw, up } = await setup({ origins: [APP], methods: ['GET', 'PUT'], headers: ['authorization', 'x-trace'], credentials: true, maxAge: '10m' })
    const res = await fetch(`${gw.url}/api/items`, {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'Authorization, content-type' },
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe(APP)
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, PUT')
    expect(res.headers.get('access-control-allow-headers')).toBe('authorization, x-trace')
    expect(res.headers.get('access-control-allow-credentials')).toBe('true')
    expect(res.headers.get('access-control-max-age')).toBe('600')
    expect(res.headers.get('vary')).toBe('Origin')
    expect(await res.text()).toBe('')
    expect(up.requests).toHaveLength(0)
  })

  it('refuses a preflight from another origin, or for a method or header not allowed, with 403 JSON', async () => {
    const { gw, up } = await setup({ origins: [APP], methods: ['GET'], headers: ['x-trace'] })
    const preflight = (origin: string, method: string, headers?: string) =>
      fetch(`${gw.url}/api`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, ...(headers ? { 'access-control-request-headers': headers } : {}) } })
    const evil = await preflight('https://evil.example', 'GET')
    expect(evil.status).toBe(403)
    expect(evil.headers.get('access-control-allow-origin')).toBeNull()
    expect(await evil.json()).toMatchObject({ statusCode: 403, message: 'origin "https://evil.example" is not allowed on this route' })
    expect((await preflight(APP, 'DELETE')).status).toBe(403)
    expect((await preflight(APP, 'GET', 'x-secret')).status).toBe(403)
    expect((await preflight(APP, 'POST', 'content-type')).status).toBe(204) // safelisted method and header
    expect(up.requests).toHaveLength(0)
  })

  it('reflects the requested headers when none are configured, and varies on them', async () => {
    const { gw } = await setup({ origins: [APP] })
    const res = await fetch(`${gw.url}/api`, { method: 'OPTIONS', headers: { origin: APP, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'x-one, x-two' } })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-headers')).toBe('x-one, x-two')
    expect(res.headers.get('vary')).toBe('Origin, Access-Control-Request-Headers')
  })

  it('adds allow and expose headers to actual responses from allowed origins, and Vary: Origin to all', async () => {
    const { gw, up } = await setup({ origins: [APP, 'https://*.example.org'], exposeHeaders: ['x-total'], credentials: true })
    const ok = await fetch(`${gw.url}/api`, { headers: { origin: APP } })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('access-control-allow-origin')).toBe(APP)
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true')
    expect(ok.headers.get('access-control-expose-headers')).toBe('x-total')
    expect(ok.headers.get('vary')).toBe('Accept-Encoding, Origin')
    const sub = await fetch(`${gw.url}/api`, { headers: { origin: 'https://a.b.example.org' } })
    expect(sub.headers.get('access-control-allow-origin')).toBe('https://a.b.example.org')
    const other = await fetch(`${gw.url}/api`, { headers: { origin: 'https://example.org.evil.com' } })
    expect(other.status).toBe(200)
    expect(other.headers.get('access-control-allow-origin')).toBeNull()
    expect(other.headers.get('vary')).toBe('Accept-Encoding, Origin')
    const none = await fetch(`${gw.url}/api`)
    expect(none.headers.get('vary')).toBe('Accept-Encoding, Origin')
    expect(up.requests).toHaveLength(4)
  })

  it('"*" allows every origin without Vary: Origin', async () => {
    const { gw } = await setup({ origins: ['*'] })
    const res = await fetch(`${gw.url}/api`, { headers: { origin: 'https://anyone.example' } })
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(res.headers.get('vary')).toBe('Accept-Encoding')
  })

  it("puts the allow headers on the gateway's own error answers, so scripts can read them", async () => {
    const { gw } = await setup({ origins: [APP] }, { access: { deny: ['127.0.0.1'] } })
    // access runs before cors: a refused address gets no CORS headers...
    const denied = await fetch(`${gw.url}/api`, { headers: { origin: APP } })
    expect(denied.status).toBe(403)
    const { gw: gw2 } = await setup({ origins: [APP] }, { respond: { status: 503, body: 'down' }, pool: undefined })
    const answer = await fetch(`${gw2.url}/api`, { headers: { origin: APP } })
    expect(answer.status).toBe(503)
    expect(answer.headers.get('access-control-allow-origin')).toBe(APP)
  })

  it('lets a preflight reach a route that restricts its methods', async () => {
    const { gw } = await setup({ origins: [APP], methods: ['POST'] }, { match: { path: '/api', methods: ['POST'] } })
    const res = await fetch(`${gw.url}/api`, { method: 'OPTIONS', headers: { origin: APP, 'access-control-request-method': 'POST' } })
    expect(res.status).toBe(204)
  })

  it('origin patterns match subdomains only, with host characters only', () => {
    const m = compileOriginMatcher(['https://*.example.com', 'http://localhost:3000'])
    expect(m('https://a.example.com')).toBe(true)
    expect(m('https://A.Example.com')).toBe(true)
    expect(m('https://example.com')).toBe(false)
    expect(m('http://a.example.com')).toBe(false)
    expect(m('https://a.example.com:8443')).toBe(false)
    expect(m('https://x@a.example.com')).toBe(false)
    expect(m('http://localhost:3000')).toBe(true)
    expect(m('http://localhost:3001')).toBe(false)
  })

  it('config: credentials with "*" and malformed origins are refused', () => {
    try {
      normalizeConfig({ pools: { p: { backends: ['http://127.0.0.1:9'] } }, routes: [{ name: 'r', pool: 'p', cors: { origins: ['*', 'app.example.com'], credentials: true } }] })
      expect.unreachable()
    } catch (err) {
      expect((err as ConfigError).problems.map((p) => p.path)).toEqual(['routes[0].cors.origins[1]', 'routes[0].cors.credentials'])
    }
  })
})
