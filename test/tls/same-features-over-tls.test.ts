import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { createSigner } from 'fast-jwt'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { createPki, type TestPki } from './helpers/pki.js'
import { h2Request, httpsRequest } from './helpers/clients.js'

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256'
let pki: TestPki
let up: TestUpstream
let gw: StartedGateway
let tlsPort: number

beforeAll(async () => {
  pki = await createPki()
  const leaf = await pki.issue('gw', { subject: '/CN=gw.test', dns: ['gw.test'], ips: ['127.0.0.1'] })
  up = await startUpstream('a', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' })
    res.end(`served ${Date.now()}`)
  })
  gw = await startGateway({
    server: { tls: { port: 0, certificates: [{ cert: leaf.cert, key: leaf.key }] } },
    jwt: { algorithms: ['HS256'], secret: SECRET },
    pools: { main: { backends: [up.url] } },
    routes: [
      { name: 'private', match: { path: '/private' }, pool: 'main', jwt: { required: true, forwardClaims: { sub: 'x-user-id' } } },
      { name: 'limited', match: { path: '/limited' }, pool: 'main', rateLimit: { max: 3, window: '1m', key: 'ip' } },
      { name: 'cached', match: { path: '/cached' }, pool: 'main', cache: { ttl: '30s' } },
    ],
  })
  tlsPort = Number(new URL(gw.httpsUrl!).port)
})

afterAll(async () => {
  await gw?.close()
  await up?.close()
  await pki?.cleanup()
})

const tlsOpts = () => ({ ca: pki.ca.pem, servername: 'gw.test' })

describe('the same gateway features over TLS and HTTP/2', () => {
  it('composes each feature once per listener (the TLS app does not stack the plain app\'s middlewares)', async () => {
    const path = `/cached/once-${Date.now()}`
    const plain = await request(`${gw.url}${path}`)
    await plain.body.text()
    const tls = await httpsRequest(tlsPort, `${path}-tls`, tlsOpts())
    expect(tls.status).toBe(200)
    const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text()
    // One miss per request: a doubled cache layer would count each request twice.
    expect(metrics).toMatch(/^switchyard_cache_requests_total\{route="cached",result="miss"\} 2$/m)
  })

  it('authenticates over HTTP/2 like over plain HTTP (401 without a token, claims forwarded with one)', async () => {
    const missing = await h2Request(tlsPort, '/private', tlsOpts())
    expect(missing.status).toBe(401)
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/)
    const token = createSigner({ key: SECRET, algorithm: 'HS256' })({ sub: 'user-7' })
    const before = up.requests.length
    const ok = await h2Request(tlsPort, '/private', { ...tlsOpts(), headers: { authorization: `Bearer ${token}`, 'x-user-id': 'forged' } })
    expect(ok.status).toBe(200)
    expect(up.requests[before]!.headers['x-user-id']).toBe('user-7')
  })

  it('counts one rate limit across the plain, HTTPS and HTTP/2 listeners', async () => {
    const plain = await request(`${gw.url}/limited`)
    await plain.body.text()
    const h1 = await httpsRequest(tlsPort, '/limited', tlsOpts())
    const h2 = await h2Request(tlsPort, '/limited', tlsOpts())
    expect([plain.statusCode, h1.status, h2.status]).toEqual([200, 200, 200])
    expect(h2.headers['ratelimit-limit']).toBe('3')
    const over = await h2Request(tlsPort, '/limited', tlsOpts())
    expect(over.status).toBe(429)
    expect(over.headers['retry-after']).toBeDefined()
  })

  it('caches over TLS: a response stored via HTTP/1.1 is a hit for HTTP/2 (same authority)', async () => {
    const first = await httpsRequest(tlsPort, '/cached', tlsOpts())
    expect(String(first.headers['cache-status'])).toMatch(/miss/)
    const body = first.body
    const second = await h2Request(tlsPort, '/cached', { ...tlsOpts(), authority: `127.0.0.1:${tlsPort}` })
    expect(second.status).toBe(200)
    expect(second.body).toBe(body)
    expect(String(second.headers['cache-status'])).toMatch(/hit/)
    // Another authority is another resource (RFC 9111 §2): HTTP/2 requests are keyed by :authority.
    const other = await h2Request(tlsPort, '/cached', { ...tlsOpts(), authority: 'other.test' })
    expect(String(other.headers['cache-status'])).toMatch(/miss/)
  })
})
