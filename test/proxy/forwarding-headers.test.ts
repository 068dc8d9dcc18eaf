import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { rawExchange } from '../helpers/raw-http.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
  gw = undefined
  up = undefined
})

describe('forwarding headers', () => {
  it('replaces client-sent X-Forwarded-* and Forwarded from an untrusted peer', async () => {
    up = await startUpstream('a')
    gw = await startGateway(simpleConfig([up.url]))
    await request(`${gw.url}/x`, {
      headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', forwarded: 'for=6.6.6.6', 'x-real-ip': '6.6.6.6', host: 'api.example.com' },
    }).then((r) => r.body.text())
    const h = up.requests[0]!.headers
    expect(h['x-forwarded-for']).toBe('127.0.0.1')
    expect(h['x-forwarded-proto']).toBe('http')
    expect(h['x-forwarded-host']).toBe('api.example.com')
    expect(h.forwarded).toBeUndefined()
    expect(h['x-real-ip']).toBeUndefined()
    // The upstream sees its own authority, not the client's Host.
    expect(h.host).toBe(new URL(up.url).host)
  })

  it('appends to X-Forwarded-For from a trusted proxy and takes the client IP from it', async () => {
    up = await startUpstream('a')
    gw = await startGateway(simpleConfig([up.url], { top: { server: { trustedProxies: ['127.0.0.1/32'] } } }))
    await request(`${gw.url}/x`, { headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' } }).then((r) => r.body.text())
    const h = up.requests[0]!.headers
    expect(h['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1')
    expect(h['x-forwarded-proto']).toBe('https')
    const access = gw.logs.find((l) => l.type === 'access')!
    expect(access.client).toBe('203.0.113.9')
  })

  it('keeps a valid client X-Request-Id, replaces an invalid one, and returns it', async () => {
    up = await startUpstream('a')
    gw = await startGateway(simpleConfig([up.url]))
    const r1 = await request(`${gw.url}/x`, { headers: { 'x-request-id': 'abc-123' } })
    await r1.body.text()
    expect(r1.headers['x-request-id']).toBe('abc-123')
    expect(up.requests[0]!.headers['x-request-id']).toBe('abc-123')
    const r2 = await request(`${gw.url}/x`, { headers: { 'x-request-id': 'bad id\twith spaces' } })
    await r2.body.text()
    const generated = r2.headers['x-request-id'] as string
    expect(generated).toMatch(/^[0-9a-f-]{36}$/)
    expect(up.requests[1]!.headers['x-request-id']).toBe(generated)
  })

  it('removes hop-by-hop headers and those named in Connection, both ways, but never gateway headers', async () => {
    up = await startUpstream('a', (_req, res) => {
      res.setHeader('connection', 'x-secret-down, keep-alive')
      res.setHeader('x-secret-down', '1')
      res.setHeader('keep-alive', 'timeout=5')
      res.setHeader('proxy-authenticate', 'Basic')
      res.end('ok')
    })
    gw = await startGateway(simpleConfig([up.url]))
    const port = new URL(gw.url).port
    const answer = await rawExchange(
      Number(port),
      'GET /x HTTP/1.1\r\nHost: a.example\r\nConnection: close, x-secret-up, x-forwarded-for, x-request-id\r\nx-secret-up: 1\r\nTE: trailers\r\nProxy-Authorization: Basic Zm9v\r\nUpgrade-Insecure-Requests: 1\r\n\r\n',
    )
    const h = up.requests[0]!.headers
    expect(h['x-secret-up']).toBeUndefined()
    expect(h.te).toBeUndefined()
    expect(h['proxy-authorization']).toBeUndefined()
    expect(h['upgrade-insecure-requests']).toBe('1')
    // Naming gateway-owned headers in Connection cannot strip them.
    expect(h['x-forwarded-for']).toBe('127.0.0.1')
    expect(h['x-request-id']).toBeTruthy()
    expect(answer.toLowerCase()).not.toContain('x-secret-down')
    expect(answer.toLowerCase()).not.toContain('proxy-authenticate')
    expect(answer.toLowerCase()).not.toContain('keep-alive: timeout')
    expect(answer).toMatch(/^HTTP\/1\.1 200/)
  })
})
