import { describe, expect, it } from 'vitest'
import { bypassReason, entryKey, normaliseHost, urlKey } from '../../src/cache/key.js'

const res = (over: Partial<Parameters<typeof urlKey>[0]> = {}) => ({ protocol: 'http' as const, host: 'api.example.com', path: '/a', query: '', ...over })

describe('cache keys', () => {
  it('lower-cases the host and drops the default port and a trailing dot', () => {
    expect(normaliseHost('API.Example.com:80', 'http')).toBe('api.example.com')
    expect(normaliseHost('api.example.com:443', 'https')).toBe('api.example.com')
    expect(normaliseHost('api.example.com:443', 'http')).toBe('api.example.com:443')
    expect(normaliseHost('api.example.com.', 'http')).toBe('api.example.com')
    expect(urlKey(res({ host: 'API.example.com:80' }))).toBe(urlKey(res()))
  })

  it('separates schemes, hosts, paths and queries, and keeps query order', () => {
    const keys = new Set([
      urlKey(res()),
      urlKey(res({ protocol: 'https' })),
      urlKey(res({ host: 'b.example.com' })),
      urlKey(res({ path: '/b' })),
      urlKey(res({ query: 'a=1&b=2' })),
      urlKey(res({ query: 'b=2&a=1' })),
    ])
    expect(keys.size).toBe(6)
  })

  it('keys route, pool and the Vary-named headers as sent upstream', () => {
    const u = urlKey(res())
    const h = (m: Record<string, string>) => (n: string) => m[n]
    const base = entryKey(u, 'r', 'p1', ['accept-language'], h({ 'accept-language': 'en' }))
    expect(entryKey(u, 'r', 'p1', ['accept-language'], h({ 'accept-language': 'en' }))).toBe(base)
    expect(entryKey(u, 'r', 'p2', ['accept-language'], h({ 'accept-language': 'en' }))).not.toBe(base)
    expect(entryKey(u, 'r2', 'p1', ['accept-language'], h({ 'accept-language': 'en' }))).not.toBe(base)
    expect(entryKey(u, 'r', 'p1', ['accept-language'], h({ 'accept-language': 'de' }))).not.toBe(base)
    expect(entryKey(u, 'r', 'p1', ['accept-language'], h({}))).not.toBe(entryKey(u, 'r', 'p1', ['accept-language'], h({ 'accept-language': '' })))
    // §4.1 normalisation: whitespace around list commas does not split variants
    expect(entryKey(u, 'r', 'p1', ['accept'], h({ accept: 'a, b' }))).toBe(entryKey(u, 'r', 'p1', ['accept'], h({ accept: 'a,b' })))
  })

  it('keys forwarding headers an origin may reflect (no unkeyed X-Forwarded-Host poisoning)', () => {
    const u = urlKey(res())
    const plain = entryKey(u, 'r', undefined, [], () => undefined)
    const evil = entryKey(u, 'r', undefined, [], (n) => (n === 'x-forwarded-host' ? 'evil.example' : undefined))
    expect(evil).not.toBe(plain)
  })

  it('bypasses requests a key cannot describe', () => {
    expect(bypassReason('GET', {})).toBeUndefined()
    expect(bypassReason('HEAD', {})).toBeUndefined()
    expect(bypassReason('POST', {})).toBe('method')
    expect(bypassReason('GET', { range: 'bytes=0-1' })).toBe('range')
    expect(bypassReason('GET', { 'content-length': '5' })).toBe('request-body')
    expect(bypassReason('GET', { 'content-length': '0' })).toBeUndefined()
    expect(bypassReason('GET', { 'x-http-method-override': 'DELETE' })).toBe('override-header')
    expect(bypassReason('GET', { 'x-original-url': '/admin' })).toBe('override-header')
  })
})
