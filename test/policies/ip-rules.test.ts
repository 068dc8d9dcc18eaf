/**
 * `match.clientIp` and `access: { allow, deny }` over real sockets, on the client address
 * resolved with trustedProxies (IPv4 and IPv6, canonical form), and the compiled matcher.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError, normalizeConfig } from '../../src/config/index.js'
import { compileIpMatcher, parseIPv4 } from '../../src/net/ip-matcher.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup(routes: Record<string, unknown>[], trusted = ['127.0.0.1']): Promise<{ gw: StartedGateway; inner: TestUpstream; outer: TestUpstream }> {
  const inner = await startUpstream('inner')
  const outer = await startUpstream('outer')
  cleanups.push(() => inner.close(), () => outer.close())
  const gw = await startGateway({
    server: { trustedProxies: trusted },
    pools: { inner: { backends: [inner.url] }, outer: { backends: [outer.url] } },
    routes,
  })
  cleanups.push(() => gw.close())
  return { gw, inner, outer }
}

const from = (ip: string) => ({ headers: { 'x-forwarded-for': ip } })

describe('compiled IP matcher', () => {
  it('matches IPv4 CIDRs, single addresses and IPv6 CIDRs; mapped IPv6 counts as IPv4', () => {
    const m = compileIpMatcher(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1', '0.0.0.0/0'.slice(0, 0) || '172.16.0.0/12'])
    expect(m.has('10.200.3.4')).toBe(true)
    expect(m.has('11.0.0.1')).toBe(false)
    expect(m.has('192.168.1.7')).toBe(true)
    expect(m.has('192.168.1.8')).toBe(false)
    expect(m.has('172.31.255.255')).toBe(true)
    expect(m.has('172.32.0.0')).toBe(false)
    expect(m.has('2001:db8:1::5')).toBe(true)
    expect(m.has('2001:DB8:0:0:0:0:0:5')).toBe(true)
    expect(m.has('2001:db9::1')).toBe(false)
    expect(m.has('::1')).toBe(true)
    expect(m.has('::ffff:10.1.2.3')).toBe(true)
    expect(m.has('not-an-ip')).toBe(false)
    expect(compileIpMatcher(['0.0.0.0/0']).has('8.8.8.8')).toBe(true)
    expect(parseIPv4('1.2.3')).toBe(-1)
    expect(parseIPv4('1.2.3.256')).toBe(-1)
    expect(parseIPv4('255.255.255.255')).toBe(0xffffffff)
  })

  it('config: bad addresses, prefix lengths and host bits are refused with their paths', () => {
    try {
      normalizeConfig({
        pools: { p: { backends: ['http://127.0.0.1:9'] } },
        routes: [{ name: 'r', match: { path: '/', clientIp: ['10.0.0.0/33', 'bogus'] }, access: { allow: ['10.1.2.3/8'], deny: ['2001:db8::1/32'] }, pool: 'p' }],
      })
      expect.unreachable()
    } catch (err) {
      expect((err as ConfigError).problems.map((p) => p.path)).toEqual([
        'routes[0].match.clientIp[0]',
        'routes[0].match.clientIp[1]',
        'routes[0].access.allow[0]',
        'routes[0].access.deny[0]',
      ])
    }
    const ok = normalizeConfig({
      pools: { p: { backends: ['http://127.0.0.1:9'] } },
      routes: [{ name: 'r', match: { path: '/', clientIp: ['::FFFF:10.0.0.0/104', '2001:DB8::/32'] }, pool: 'p' }],
    })
    // One canonical form: IPv4-mapped becomes IPv4 (the prefix counted in IPv4 bits), IPv6 lower-cased.
    expect(ok.routes[0]!.match.clientIp).toEqual(['10.0.0.0/8', '2001:db8::/32'])
  })
})

describe('match.clientIp', () => {
  it('routes by the resolved client address (IPv4 and IPv6), not the proxy peer', async () => {
    const { gw, inner, outer } = await setup([
      { name: 'internal', match: { path: '/', clientIp: ['10.0.0.0/8', 'fd00::/8'] }, pool: 'inner' },
      { name: 'public', match: { path: '/' }, pool: 'outer' },
    ])
    expect((await fetch(`${gw.url}/x`, from('10.1.2.3'))).headers.get('x-upstream')).toBe('inner')
    expect((await fetch(`${gw.url}/x`, from('fd12:3456::1'))).headers.get('x-upstream')).toBe('inner')
    expect((await fetch(`${gw.url}/x`, from('203.0.113.9'))).headers.get('x-upstream')).toBe('outer')
    expect((await fetch(`${gw.url}/x`)).headers.get('x-upstream')).toBe('outer') // the peer, 127.0.0.1
    expect(inner.requests).toHaveLength(2)
    expect(outer.requests).toHaveLength(2)
  })

  it('ignores X-Forwarded-For from an untrusted peer', async () => {
    const { gw } = await setup(
      [
        { name: 'internal', match: { path: '/', clientIp: ['10.0.0.0/8'] }, pool: 'inner' },
        { name: 'public', match: { path: '/' }, pool: 'outer' },
      ],
      [],
    )
    expect((await fetch(`${gw.url}/x`, from('10.1.2.3'))).headers.get('x-upstream')).toBe('outer')
  })
})

describe('access', () => {
  it('deny wins, allow admits, others get 403 JSON and never reach the upstream', async () => {
    const { gw, inner } = await setup([
      { name: 'api', match: { path: '/' }, access: { allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.6.6.0/24'] }, pool: 'inner' },
    ])
    expect((await fetch(`${gw.url}/a`, from('10.1.1.1'))).status).toBe(200)
    expect((await fetch(`${gw.url}/a`, from('2001:db8::7'))).status).toBe(200)
    const denied = await fetch(`${gw.url}/a`, from('10.6.6.6'))
    expect(denied.status).toBe(403)
    expect(denied.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await denied.json()).toMatchObject({ statusCode: 403, error: 'Forbidden', message: 'client address is not allowed on this route' })
    expect((await fetch(`${gw.url}/a`, from('192.0.2.1'))).status).toBe(403)
    expect((await fetch(`${gw.url}/a`, from('::ffff:10.6.6.1'))).status).toBe(403)
    expect(inner.requests).toHaveLength(2)
  })

  it('a deny-only rule lets everyone else through', async () => {
    const { gw, inner } = await setup([{ name: 'api', match: { path: '/' }, access: { deny: ['198.51.100.0/24'] }, pool: 'inner' }])
    expect((await fetch(`${gw.url}/a`, from('198.51.100.20'))).status).toBe(403)
    expect((await fetch(`${gw.url}/a`, from('198.51.101.20'))).status).toBe(200)
    expect(inner.requests).toHaveLength(1)
  })

  it('applies to respond routes too', async () => {
    const { gw } = await setup([{ name: 'secret', match: { path: '/' }, access: { allow: ['10.0.0.0/8'] }, respond: { body: 'hi' } }])
    expect((await fetch(`${gw.url}/`, from('10.0.0.1'))).status).toBe(200)
    expect((await fetch(`${gw.url}/`, from('11.0.0.1'))).status).toBe(403)
  })
})
