import { describe, expect, it } from 'vitest'
import { decideStore, type CacheRules, type Exchange } from '../../src/cache/policy.js'

const T0 = Date.parse('2026-01-01T00:00:00Z')
const DATE = new Date(T0).toUTCString()
const rules: CacheRules = { ttl: 0, staleWhileRevalidate: 0, staleIfError: 0, maxEntrySize: 1024 }

function ex(res: Record<string, string | string[]>, over: Partial<Exchange> = {}): Exchange {
  return { method: 'GET', requestHeaders: {}, status: 200, responseHeaders: { date: DATE, ...res }, requestTime: T0, responseTime: T0, ...over }
}

describe('what a shared cache stores (RFC 9111 §3)', () => {
  it('stores a GET 200 with max-age, fresh for that long', () => {
    const d = decideStore(ex({ 'cache-control': 'max-age=60' }), rules)
    expect(d.store).toBe(true)
    if (d.store) {
      expect(d.freshness.lifetime).toBe(60_000)
      expect(d.freshness.heuristic).toBe(false)
      // freshness + the max-stale grace
      expect(d.retainMs).toBe(60_000 + 60_000)
    }
  })

  it('prefers s-maxage over max-age, and max-age over Expires', () => {
    const a = decideStore(ex({ 'cache-control': 'max-age=60, s-maxage=5' }), rules)
    const b = decideStore(ex({ 'cache-control': 'max-age=7', expires: new Date(T0 + 3600_000).toUTCString() }), rules)
    const c = decideStore(ex({ expires: new Date(T0 + 30_000).toUTCString() }), rules)
    expect(a.store && a.freshness.lifetime).toBe(5000)
    expect(b.store && b.freshness.lifetime).toBe(7000)
    expect(c.store && c.freshness.lifetime).toBe(30_000)
  })

  it('treats an invalid Expires or a duplicated max-age as already stale (§4.2.1, §5.3)', () => {
    const a = decideStore(ex({ expires: '0', etag: '"x"' }), rules)
    const b = decideStore(ex({ 'cache-control': 'max-age=60, max-age=120', etag: '"x"' }), rules)
    const c = decideStore(ex({ 'cache-control': 'max-age=10s', etag: '"x"' }), rules)
    expect(a.store && a.freshness.lifetime).toBe(0)
    expect(b.store && b.freshness.lifetime).toBe(0)
    expect(c.store && c.freshness.lifetime).toBe(0)
  })

  it('refuses non-GET/HEAD, no-store, private, Set-Cookie and Vary: *', () => {
    const cc = { 'cache-control': 'max-age=60' }
    expect(decideStore(ex(cc, { method: 'POST' }), rules)).toEqual({ store: false, reason: 'method' })
    expect(decideStore(ex({ 'cache-control': 'max-age=60, no-store' }), rules)).toEqual({ store: false, reason: 'no-store' })
    expect(decideStore(ex(cc, { requestHeaders: { 'cache-control': 'no-store' } }), rules)).toEqual({ store: false, reason: 'no-store' })
    expect(decideStore(ex({ 'cache-control': 'Private, max-age=60' }), rules)).toEqual({ store: false, reason: 'private' })
    expect(decideStore(ex({ 'cache-control': 'private="x-user", max-age=60' }), rules)).toEqual({ store: false, reason: 'private' })
    expect(decideStore(ex({ ...cc, 'set-cookie': ['a=1'] }), rules)).toEqual({ store: false, reason: 'set-cookie' })
    expect(decideStore(ex({ ...cc, 'set-cookie': ['a=1'], 'cache-control': 'public, max-age=60' }), rules)).toEqual({ store: false, reason: 'set-cookie' })
    expect(decideStore(ex({ ...cc, vary: 'accept, *' }), rules)).toEqual({ store: false, reason: 'vary-star' })
  })

  it('stores Set-Cookie responses only when the route opts in (cache.storeSetCookie), and then by the usual rules', () => {
    const withCookie = { 'cache-control': 'max-age=60', 'set-cookie': ['a=1'] }
    expect(decideStore(ex(withCookie), { ...rules, storeSetCookie: true }).store).toBe(true)
    expect(decideStore(ex({ ...withCookie, 'cache-control': 'private, max-age=60' }), { ...rules, storeSetCookie: true })).toEqual({ store: false, reason: 'private' })
    expect(decideStore(ex(withCookie), { ...rules, storeSetCookie: false })).toEqual({ store: false, reason: 'set-cookie' })
  })

  it('refuses a response to an authorized request unless public, s-maxage or must-revalidate allow it (§3.5)', () => {
    const auth = { requestHeaders: { authorization: 'Bearer x' } }
    expect(decideStore(ex({ 'cache-control': 'max-age=60' }, auth), rules)).toEqual({ store: false, reason: 'authorization' })
    expect(decideStore(ex({}, auth), { ...rules, ttl: 10_000 })).toEqual({ store: false, reason: 'authorization' })
    expect(decideStore(ex({ 'cache-control': 'public, max-age=60' }, auth), rules).store).toBe(true)
    expect(decideStore(ex({ 'cache-control': 's-maxage=60' }, auth), rules).store).toBe(true)
    expect(decideStore(ex({ 'cache-control': 'max-age=60, must-revalidate' }, auth), rules).store).toBe(true)
  })

  it('refuses a body declared larger than maxEntrySize (it streams through instead)', () => {
    expect(decideStore(ex({ 'cache-control': 'max-age=60', 'content-length': '1025' }), rules)).toEqual({ store: false, reason: 'too-large' })
    expect(decideStore(ex({ 'cache-control': 'max-age=60', 'content-length': '1024' }), rules).store).toBe(true)
  })

  it('uses the route ttl only when the upstream gives no freshness, and only for storable responses', () => {
    const withTtl = { ...rules, ttl: 30_000 }
    const none = decideStore(ex({}), withTtl)
    expect(none.store && none.freshness.lifetime).toBe(30_000)
    expect(none.store && none.freshness.heuristic).toBe(true)
    const explicit = decideStore(ex({ 'cache-control': 'max-age=5' }), withTtl)
    expect(explicit.store && explicit.freshness.lifetime).toBe(5000)
    // max-age=0 is freshness given by the upstream: the ttl does not override it.
    const zero = decideStore(ex({ 'cache-control': 'max-age=0', etag: '"a"' }), withTtl)
    expect(zero.store && zero.freshness.lifetime).toBe(0)
    // 500 is not cacheable by default: no heuristic freshness for it.
    expect(decideStore(ex({}, { status: 500 }), withTtl)).toEqual({ store: false, reason: 'status' })
    expect(decideStore(ex({ 'cache-control': 'no-store' }), withTtl)).toEqual({ store: false, reason: 'no-store' })
  })

  it('without ttl and without freshness or validator there is nothing worth storing', () => {
    expect(decideStore(ex({}), rules)).toEqual({ store: false, reason: 'no-freshness' })
  })

  it('uses the Last-Modified heuristic (10%) when the route has no ttl (§4.2.2)', () => {
    const d = decideStore(ex({ 'last-modified': new Date(T0 - 1000_000).toUTCString() }), rules)
    expect(d.store && d.freshness.lifetime).toBe(100_000)
    expect(d.store && d.freshness.heuristic).toBe(true)
  })

  it('stores no-cache responses with a validator, with zero freshness and no stale serving', () => {
    const d = decideStore(ex({ 'cache-control': 'no-cache, max-age=60', etag: '"v1"' }), { ...rules, staleIfError: 60_000 })
    expect(d.store).toBe(true)
    if (d.store) {
      expect(d.freshness.lifetime).toBe(0)
      expect(d.freshness.mustRevalidate).toBe(true)
      expect(d.freshness.staleIfError).toBe(0)
    }
  })

  it('does not give immutable responses freshness they did not state (RFC 8246)', () => {
    expect(decideStore(ex({ 'cache-control': 'immutable' }), rules)).toEqual({ store: false, reason: 'no-freshness' })
  })

  it('stores unknown final statuses with explicit freshness, unless must-understand', () => {
    expect(decideStore(ex({ 'cache-control': 'max-age=60' }, { status: 299 }), rules).store).toBe(true)
    expect(decideStore(ex({ 'cache-control': 'max-age=60, must-understand, no-store' }, { status: 299 }), rules)).toEqual({
      store: false,
      reason: 'must-understand',
    })
    expect(decideStore(ex({ 'cache-control': 'max-age=60, must-understand, no-store' }), rules).store).toBe(true)
    expect(decideStore(ex({ 'cache-control': 'max-age=60' }, { status: 206 }), rules)).toEqual({ store: false, reason: 'status' })
  })

  it('takes stale windows from RFC 5861 directives first, then the route', () => {
    const route = { ...rules, staleWhileRevalidate: 10_000, staleIfError: 300_000 }
    const fromRoute = decideStore(ex({ 'cache-control': 'max-age=60' }), route)
    expect(fromRoute.store && [fromRoute.freshness.staleWhileRevalidate, fromRoute.freshness.staleIfError]).toEqual([10_000, 300_000])
    expect(fromRoute.store && fromRoute.retainMs).toBe(360_000 + 60_000)
    const fromResponse = decideStore(ex({ 'cache-control': 'max-age=60, stale-while-revalidate=5, stale-if-error=7' }), route)
    expect(fromResponse.store && [fromResponse.freshness.staleWhileRevalidate, fromResponse.freshness.staleIfError]).toEqual([5000, 7000])
    const forbidden = decideStore(ex({ 'cache-control': 'max-age=60, must-revalidate, stale-if-error=7' }), route)
    expect(forbidden.store && [forbidden.freshness.staleWhileRevalidate, forbidden.freshness.staleIfError]).toEqual([0, 0])
    const proxyReval = decideStore(ex({ 'cache-control': 'max-age=60, proxy-revalidate' }), route)
    expect(proxyReval.store && proxyReval.freshness.lifetime).toBe(60_000)
    expect(proxyReval.store && proxyReval.freshness.mustRevalidate).toBe(true)
  })

  it('uses the time of receipt when Expires comes with an invalid Date (RFC 9110 §6.6.1)', () => {
    const d = decideStore(ex({ expires: new Date(T0 + 30_000).toUTCString(), date: 'not a date' }), rules)
    expect(d.store && d.freshness.lifetime).toBe(30_000)
  })

  it('lets Surrogate-Control aimed at the gateway override Cache-Control and Expires', () => {
    const a = decideStore(ex({ 'cache-control': 'no-store', 'surrogate-control': 'max-age=120;switchyard' }), rules)
    expect(a.store && a.freshness.lifetime).toBe(120_000)
    const b = decideStore(ex({ 'cache-control': 'max-age=600', expires: new Date(T0 + 600_000).toUTCString(), 'surrogate-control': 'no-store' }), rules)
    expect(b).toEqual({ store: false, reason: 'no-store' })
    const c = decideStore(ex({ 'cache-control': 'max-age=600', 'surrogate-control': 'max-age=1' }), rules)
    expect(c.store && c.freshness.lifetime).toBe(1000)
    // Aimed at another device: ignored.
    const d = decideStore(ex({ 'cache-control': 'max-age=600', 'surrogate-control': 'max-age=1;other-cdn' }), rules)
    expect(d.store && d.freshness.lifetime).toBe(600_000)
    // max-age=N+M: M is how long it may be served stale on error.
    const e = decideStore(ex({ 'surrogate-control': 'MAX-AGE=60+300' }), rules)
    expect(e.store && [e.freshness.lifetime, e.freshness.staleIfError]).toEqual([60_000, 300_000])
  })

  it('allows heuristic freshness for an unknown status marked public (§4.2.2)', () => {
    const d = decideStore(ex({ 'cache-control': 'public', 'last-modified': new Date(T0 - 1000_000).toUTCString() }, { status: 599 }), rules)
    expect(d.store && d.freshness.lifetime).toBe(100_000)
  })

  it('records Vary names and Cache-Tag tags', () => {
    const d = decideStore(ex({ 'cache-control': 'max-age=60', vary: 'Accept-Encoding, accept-language', 'cache-tag': 'user-7, users ,user-7' }), rules)
    expect(d.store && d.vary).toEqual(['accept-encoding', 'accept-language'])
    expect(d.store && d.tags).toEqual(['user-7', 'users'])
  })

  it('keeps entries with validators past their windows for revalidation', () => {
    const d = decideStore(ex({ 'cache-control': 'max-age=60', etag: '"a"' }), rules)
    expect(d.store && d.retainMs).toBe(60_000 + 3600_000)
  })
})
