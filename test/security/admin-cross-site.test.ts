/**
 * The admin listener against browsers: with no token (the loopback default) a page could POST
 * /api/reload with no body or text/plain, and a page on a rebinding domain could read
 * /api/pools. Foreign Host → 403, foreign Origin → 403, a state-changing body that is not
 * application/json → 415; the admin's own names, IP literals and admin.allowedHosts pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { rawExchange, statusOf } from '../helpers/raw-http.js'

let up: TestUpstream
let gw: StartedGateway
let reloads = 0

beforeAll(async () => {
  up = await startUpstream('a')
  const config = { admin: { allowedHosts: ['admin.internal', 'ops.example:8443'] }, pools: { p: { backends: [up.url] } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] }
  gw = await startGateway(config)
  // No config file behind this gateway: count the reloads and re-apply the running settings.
  const original = gw.reload.bind(gw)
  ;(gw as { reload: typeof gw.reload }).reload = async () => {
    reloads++
    return original(gw.settings)
  }
})
afterAll(async () => {
  await gw?.close()
  await up?.close()
})

const adminPort = () => Number(new URL(gw.adminUrl!).port)

async function call(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${gw.adminUrl}${path}`, { method: method as 'GET', headers, body })
  const text = await res.body.text()
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }
}

describe('admin Host check (DNS rebinding)', () => {
  it.each(['evil.example', 'evil.example:80', 'attacker.test:9901', 'ops.example:9999', 'localhost.evil.example'])('Host %s is refused with 421', async (host) => {
    const r = await call('GET', '/api/pools', { host })
    expect(r.status).toBe(421)
    expect(r.json).toMatchObject({ statusCode: 421, error: 'Misdirected Request' })
  })

  it('the own address, loopback names, IP literals and allowedHosts are answered', async () => {
    for (const host of [`127.0.0.1:${adminPort()}`, `localhost:${adminPort()}`, 'localhost', '[::1]:9901', '10.1.2.3:9901', 'admin.internal', 'admin.internal:1234', 'ADMIN.internal', 'ops.example:8443']) {
      const r = await call('GET', '/api/pools', { host })
      expect(r.status, host).toBe(200)
    }
  })

  it('a malformed Host is refused too', async () => {
    const answer = await rawExchange(adminPort(), 'GET /api/pools HTTP/1.1\r\nHost: 127.0.0.1@evil.example\r\nConnection: close\r\n\r\n')
    expect(statusOf(answer)).toBe(421)
  })
})

describe('admin Origin and Content-Type checks (cross-site requests)', () => {
  it('a foreign Origin is refused, with or without a body, and nothing reloads', async () => {
    const before = reloads
    expect((await call('POST', '/api/reload', { origin: 'https://evil.example' })).status).toBe(403)
    expect((await call('POST', '/api/reload', { origin: 'null' })).status).toBe(403)
    expect((await call('GET', '/api/pools', { origin: 'http://evil.example' })).status).toBe(403)
    // An IP-literal page is not the admin's origin either.
    expect((await call('POST', '/api/reload', { origin: 'http://10.6.6.6' })).status).toBe(403)
    expect(reloads).toBe(before)
  })

  it.each([
    ['text/plain', 'x'],
    ['application/x-www-form-urlencoded', 'a=b'],
    ['multipart/form-data; boundary=x', '--x--'],
  ])('a state-changing call with %s is refused with 415 and nothing reloads', async (type, body) => {
    const before = reloads
    const r = await call('POST', '/api/reload', { 'content-type': type }, body)
    expect(r.status).toBe(415)
    expect(reloads).toBe(before)
  })

  it('a body without Content-Type is refused', async () => {
    const answer = await rawExchange(adminPort(), `POST /api/reload HTTP/1.1\r\nHost: 127.0.0.1:${adminPort()}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`)
    expect(statusOf(answer)).toBe(415)
  })

  it('JSON, a bodiless call (curl -X POST) and the same origin pass', async () => {
    const before = reloads
    expect((await call('POST', '/api/reload', { 'content-type': 'application/json' }, '{}')).status).toBe(200)
    expect((await call('POST', '/api/reload', {})).status).toBe(200)
    expect((await call('POST', '/api/reload', { origin: `http://127.0.0.1:${adminPort()}`, 'content-type': 'application/json' }, '{}')).status).toBe(200)
    expect((await call('POST', '/api/reload', { origin: 'https://ops.example:8443' })).status).toBe(200)
    expect(reloads).toBe(before + 4)
  })
})
