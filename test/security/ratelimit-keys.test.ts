/**
 * Rate-limit bucket keys: route name plus key value, IPv6 grouped by /64, missing header or
 * claim falling back to the client's IP bucket.
 */
import { describe, expect, it } from 'vitest'
import { compileRateLimitKey, ipBucket, ipv6Prefix64 } from '../../src/ratelimit/key.js'

const input = (over: Partial<{ clientIp: string; headers: Record<string, string>; claims: Record<string, unknown> }> = {}) => ({
  clientIp: over.clientIp ?? '203.0.113.7',
  headers: over.headers ?? {},
  claims: over.claims,
})

describe('IPv6 clients are grouped by /64', () => {
  it('gives every spelling of one /64 the same bucket', () => {
    const spellings = ['2001:db8:0:1::1', '2001:db8:0:1:ffff:ffff:ffff:ffff', '2001:0db8:0000:0001:0:0:0:9', '2001:DB8:0:1::abcd', '2001:db8:0:1::1%eth0', '2001:db8:0:1:1:2:1.2.3.4']
    const buckets = new Set(spellings.map(ipBucket))
    expect(buckets).toEqual(new Set(['2001:db8:0:1::/64']))
    expect(ipBucket('2001:db8:0:2::1')).toBe('2001:db8:0:2::/64')
  })

  it('handles compressed prefixes, loopback and IPv4-mapped addresses', () => {
    expect(ipv6Prefix64('::1')).toBe('0:0:0:0::/64')
    expect(ipv6Prefix64('fe80::1')).toBe('fe80:0:0:0::/64')
    expect(ipv6Prefix64('2001:db8::')).toBe('2001:db8:0:0::/64')
    expect(ipv6Prefix64('1:2:3:4:5:6:7:8')).toBe('1:2:3:4::/64')
    expect(ipv6Prefix64('1:2:3::7:8')).toBe('1:2:3:0::/64')
    expect(ipBucket('::ffff:198.51.100.9')).toBe('198.51.100.9')
    expect(ipBucket('198.51.100.9')).toBe('198.51.100.9')
  })
})

describe('bucket keys', () => {
  it('are the route name plus the key value, so routes never share a budget', () => {
    const a = compileRateLimitKey('users', { kind: 'ip' })
    const b = compileRateLimitKey('orders', { kind: 'ip' })
    expect(a.derive(input())).toBe('5:users|ip:203.0.113.7')
    expect(a.derive(input())).not.toBe(b.derive(input()))
    expect(compileRateLimitKey('users', { kind: 'route' }).derive(input({ clientIp: '1.1.1.1' }))).toBe('5:users|route')
  })

  it('use a header value, falling back to the IP bucket when it is missing', () => {
    const k = compileRateLimitKey('r', { kind: 'header', name: 'x-api-key' })
    expect(k.derive(input({ headers: { 'x-api-key': 'k1' } }))).toBe('1:r|h:k1')
    expect(k.derive(input())).toBe('1:r|ip:203.0.113.7')
    const long = k.derive(input({ headers: { 'x-api-key': 'x'.repeat(1000) } }))
    expect(long.length).toBeLessThan(80)
    expect(long).not.toBe(k.derive(input({ headers: { 'x-api-key': 'x'.repeat(1001) } })))
    expect(k.needsClaims).toBe(false)
  })

  it('use a verified claim, falling back to the IP bucket for anonymous requests', () => {
    const k = compileRateLimitKey('r', { kind: 'jwt', claim: 'sub' })
    expect(k.needsClaims).toBe(true)
    expect(k.derive(input({ claims: { sub: 'alice' } }))).toBe('1:r|jwt:alice')
    expect(k.derive(input({ claims: { sub: 42 } }))).toBe('1:r|jwt:42')
    expect(k.derive(input({ claims: {} }))).toBe('1:r|ip:203.0.113.7')
  })

  it('read cookie, query and (normalised) path keys through the caller, falling back to the IP bucket', () => {
    const lookup = (s: { kind: string }) => (s.kind === 'cookie' ? 'sess1' : s.kind === 'path' ? '/api/users' : undefined)
    expect(compileRateLimitKey('r', { kind: 'cookie', name: 'sid' }).derive({ ...input(), lookup })).toBe('1:r|c:sess1')
    expect(compileRateLimitKey('r', { kind: 'path' }).derive({ ...input(), lookup })).toBe('1:r|p:/api/users')
    expect(compileRateLimitKey('r', { kind: 'query', name: 'k' }).derive({ ...input(), lookup })).toBe('1:r|ip:203.0.113.7')
  })
})
