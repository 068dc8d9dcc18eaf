/**
 * The admin listener: bound to loopback unless told otherwise, every call but GET /health needs
 * the token when one is set, and the token is compared in constant time.
 */
import { readFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { bearerToken, tokenMatches } from '../../src/admin-token.js'
import { createGateway, type Gateway } from '../../src/gateway.js'
import { rawExchange, Resources, send, statusOf } from './harness.js'

const res = new Resources()
afterAll(() => res.closeAll())

describe('admin token comparison', () => {
  it('accepts only the exact token and never throws on a length mismatch', () => {
    const token = 'correct-horse-battery-staple'
    expect(tokenMatches(token, token)).toBe(true)
    for (const wrong of ['', 'c', 'correct-horse-battery-stapl', 'correct-horse-battery-staple!', 'Correct-horse-battery-staple', token.repeat(100)]) {
      expect(tokenMatches(wrong, token), wrong).toBe(false)
    }
    // An empty configured token never matches (admin without a token is open by configuration, not by comparison).
    expect(tokenMatches('', '')).toBe(false)
  })

  it('compares fixed-size digests with timingSafeEqual, so the work does not depend on where inputs differ', () => {
    // Not a timing measurement (too noisy on a shared CI machine): the function must hash both
    // sides and compare with crypto.timingSafeEqual, never with ===, which this asserts on its source.
    const file = readFileSync(new URL('../../src/admin-token.ts', import.meta.url), 'utf8')
    const body = file.slice(file.indexOf('export function tokenMatches'), file.indexOf('export function bearerToken'))
    expect(body).toMatch(/createHash\(['"]sha256['"]\)\.update\(presented\)/)
    expect(body).toMatch(/createHash\(['"]sha256['"]\)\.update\(expected\)/)
    expect(body).toMatch(/timingSafeEqual\(a, b\)/)
    expect(body).not.toMatch(/presented\s*===|===\s*presented|presented\s*==[^=]/)
  })

  it('reads only a well-formed Bearer credential', () => {
    expect(bearerToken('Bearer abc')).toBe('abc')
    expect(bearerToken('bearer abc')).toBe('abc')
    expect(bearerToken('Basic abc')).toBeUndefined()
    expect(bearerToken('Bearer a b')).toBeUndefined()
    expect(bearerToken(undefined)).toBeUndefined()
  })
})

describe('admin listener', () => {
  it('binds to loopback by default', async () => {
    const gw: Gateway = await createGateway(
      { server: { host: '127.0.0.1', port: 0 }, admin: { port: 0 }, pools: { p: { backends: ['http://127.0.0.1:9'] } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] },
      { logger: false, processMetrics: false },
    )
    res.add(() => gw.close(), undefined)
    await gw.listen()
    expect(gw.settings.admin && gw.settings.admin.host).toBe('127.0.0.1')
    expect(new URL(gw.adminUrl!).hostname).toBe('127.0.0.1')
    expect((gw.admin!.server.address() as { address: string }).address).toBe('127.0.0.1')
  })

  it('requires the token on every call but GET /health, whatever the spelling of the path', async () => {
    const token = 'admin-token-for-tests-0123456789'
    const up = await res.upstream()
    const gw = await res.gateway({ admin: { token }, pools: { main: { backends: [up.url] } }, routes: [{ name: 'all', match: { path: '/' }, pool: 'main' }] })
    const admin = gw.adminUrl!
    expect((await send(`${admin}/health`)).status).toBe(200)
    const denied = await send(`${admin}/api/pools`)
    expect(denied.status).toBe(401)
    expect(denied.body).toMatchObject({ statusCode: 401 })
    expect((await send(`${admin}/api/pools`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    expect((await send(`${admin}/api/pools`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    expect((await send(`${admin}/api/reload`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(401)
    const port = Number(new URL(admin).port)
    for (const target of ['/api/pools?', '//api/pools', '/./api/pools', '/health/../api/pools', '/health%2f../api/pools', '/API/pools', '/metrics', '/health?x=1']) {
      const answer = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`)
      expect([400, 401, 404], `${target} → ${answer.slice(0, 100)}`).toContain(statusOf(answer))
      expect(answer).not.toContain('"backends"')
    }
  })
})
