/**
 * Forwarding headers (X-Forwarded-*, Forwarded, X-Real-IP) sent by an untrusted peer are
 * replaced or removed before the upstream sees them, also when the client names them in
 * `Connection`; a trusted proxy's chain is extended instead.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { Resources, send } from './harness.js'

const res = new Resources()
afterAll(() => res.closeAll())

const spoof = {
  'x-forwarded-for': '203.0.113.66',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'evil.example.com',
  'x-forwarded-port': '443',
  forwarded: 'for=203.0.113.66;proto=https;host=evil.example.com',
  'x-real-ip': '203.0.113.66',
}

describe('forwarding headers', () => {
  it('from an untrusted peer are replaced by what the gateway saw, or removed', async () => {
    const up = await res.upstream()
    const gw = await res.gateway({ pools: { main: { backends: [up.url] } }, routes: [{ name: 'all', match: { path: '/' }, pool: 'main' }] })
    const host = new URL(gw.url).host
    await send(`${gw.url}/a`, { headers: spoof })
    // Naming them in Connection must not strip the gateway's own values either.
    await send(`${gw.url}/b`, { headers: { ...spoof, connection: 'x-forwarded-for, x-forwarded-proto, x-forwarded-host' } })
    expect(up.requests).toHaveLength(2)
    for (const q of up.requests) {
      expect(q.headers['x-forwarded-for']).toBe('127.0.0.1')
      expect(q.headers['x-forwarded-proto']).toBe('http')
      expect(q.headers['x-forwarded-host']).toBe(host)
      expect(q.headers['x-forwarded-port']).toBeUndefined()
      expect(q.headers.forwarded).toBeUndefined()
      expect(q.headers['x-real-ip']).toBeUndefined()
    }
  })

  it('from a trusted proxy are extended', async () => {
    const up = await res.upstream()
    const gw = await res.gateway({ server: { trustedProxies: ['127.0.0.1'] }, pools: { main: { backends: [up.url] } }, routes: [{ name: 'all', match: { path: '/' }, pool: 'main' }] })
    await send(`${gw.url}/a`, { headers: spoof })
    const q = up.requests[0]!
    expect(q.headers['x-forwarded-for']).toBe('203.0.113.66, 127.0.0.1')
    expect(q.headers['x-forwarded-proto']).toBe('https')
    expect(q.headers['x-forwarded-host']).toBe('evil.example.com')
  })
})
