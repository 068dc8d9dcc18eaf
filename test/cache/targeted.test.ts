import { describe, expect, it } from 'vitest'
import { requestDirectives } from '../../src/cache/cache-control.js'
import { decideStore, evaluate, type CacheRules, type StoreDecision } from '../../src/cache/policy.js'
import { targetedDirectives, targetList } from '../../src/cache/targeted.js'

const T0 = Date.parse('2026-01-01T00:00:00Z')
const rules: CacheRules = { ttl: 0, staleWhileRevalidate: 0, staleIfError: 0, maxEntrySize: 1 << 20 }
const none = requestDirectives({})

function decide(headers: Record<string, string | string[]>, r: Partial<CacheRules> = {}): StoreDecision {
  return decideStore({ method: 'GET', requestHeaders: {}, status: 200, responseHeaders: { date: new Date(T0).toUTCString(), ...headers }, requestTime: T0, responseTime: T0 }, { ...rules, ...r })
}

/** Verdict for a request `after` ms after the response, or 'not stored'. */
function reuse(headers: Record<string, string | string[]>, after = 1000, r: Partial<CacheRules> = {}): string {
  const d = decide(headers, r)
  return d.store ? evaluate(d.freshness, none, T0 + after) : `not stored (${d.reason})`
}

describe('RFC 9213 targeted cache control', () => {
  it('CDN-Cache-Control max-age gives freshness where Cache-Control gives none', () => {
    expect(reuse({ 'cdn-cache-control': 'max-age=3600' })).toBe('fresh')
    expect(reuse({ 'cdn-cache-control': 'max-age=99999999999' })).toBe('fresh')
  })

  it('replaces Cache-Control and Expires for this cache, in both directions', () => {
    // short targeted beats long Cache-Control
    expect(reuse({ 'cache-control': 'max-age=3600', 'cdn-cache-control': 'max-age=1' }, 2000)).toBe('revalidate')
    // long targeted beats short Cache-Control, a past Expires and Cache-Control: no-store
    expect(reuse({ 'cache-control': 'max-age=1', 'cdn-cache-control': 'max-age=3600' }, 2000)).toBe('fresh')
    expect(reuse({ 'cdn-cache-control': 'max-age=3600', expires: new Date(T0 - 10_000_000).toUTCString() })).toBe('fresh')
    expect(reuse({ 'cdn-cache-control': 'max-age=3600', expires: '0' })).toBe('fresh')
    expect(reuse({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=10000' })).toBe('fresh')
    // max-age=0 beats a future Expires
    expect(reuse({ 'cdn-cache-control': 'max-age=0', expires: new Date(T0 + 10_000_000).toUTCString() })).toBe('not stored (no-freshness)')
  })

  it('honours no-store, private and no-cache in the targeted field over a fresh Cache-Control', () => {
    const fresh = { 'cache-control': 'max-age=10000', expires: new Date(T0 + 10_000_000).toUTCString() }
    expect(reuse({ ...fresh, 'cdn-cache-control': 'no-store' })).toBe('not stored (no-store)')
    expect(reuse({ ...fresh, 'cdn-cache-control': 'private' })).toBe('not stored (private)')
    expect(reuse({ ...fresh, 'cdn-cache-control': 'no-cache', etag: '"e"' })).toBe('revalidate')
  })

  it('counts Age against a targeted max-age', () => {
    expect(reuse({ 'cdn-cache-control': 'max-age=3600', age: '7200', etag: '"e"' })).toBe('revalidate')
  })

  it('ignores extension directives but keeps the rest of the field', () => {
    expect(reuse({ 'cdn-cache-control': 'foobar, max-age=3600' })).toBe('fresh')
  })

  it('ignores a field that is not a valid Structured Field Dictionary, falling back to Cache-Control', () => {
    expect(targetedDirectives({ 'cdn-cache-control': 'max-age=10000, &&&&&' }, targetList('x'))).toBeUndefined()
    expect(reuse({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=10000, &&&&&' })).toBe('not stored (no-store)')
    expect(reuse({ 'cache-control': 'max-age=1', 'cdn-cache-control': 'max-age =100' }, 2000)).toBe('revalidate')
    // an empty field is ignored too
    expect(reuse({ 'cache-control': 'max-age=3600', 'cdn-cache-control': '  ' })).toBe('fresh')
  })

  it('reads a delta-seconds directive of the wrong type as malformed (stale), never as freshness', () => {
    expect(targetedDirectives({ 'cdn-cache-control': 'max-age="10000"' }, targetList('x'))?.get('max-age')).not.toBe('10000')
    expect(reuse({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age="10000"' })).toBe('not stored (no-freshness)')
    expect(reuse({ 'cdn-cache-control': 'max-age=10.5' })).toBe('not stored (no-freshness)')
    expect(reuse({ 'cdn-cache-control': 'max-age=-5' })).toBe('not stored (no-freshness)')
  })

  it('puts our own field first on the target list, and its name is configurable', () => {
    const both = { 'switchyard-cache-control': 'max-age=3600', 'cdn-cache-control': 'no-store' }
    expect(reuse(both)).toBe('fresh')
    expect(reuse({ 'switchyard-cache-control': 'no-store', 'cdn-cache-control': 'max-age=3600' })).toBe('not stored (no-store)')
    // an invalid own field falls through to CDN-Cache-Control
    expect(reuse({ 'switchyard-cache-control': '&&', 'cdn-cache-control': 'max-age=3600' })).toBe('fresh')
    const edge = { targets: targetList('Edge-Cache-Control') }
    expect(reuse({ 'edge-cache-control': 'max-age=3600', 'cache-control': 'no-store' }, 1000, edge)).toBe('fresh')
    // a field not on the target list changes nothing
    expect(reuse({ 'switchyard-cache-control': 'max-age=3600', 'cache-control': 'no-store' }, 1000, edge)).toBe('not stored (no-store)')
  })

  it('wins over Surrogate-Control; Surrogate-Control still applies without a targeted field', () => {
    expect(reuse({ 'cdn-cache-control': 'max-age=3600', 'surrogate-control': 'no-store' })).toBe('fresh')
    expect(reuse({ 'surrogate-control': 'max-age=3600', 'cache-control': 'no-store' })).toBe('fresh')
  })

  it('applies the stale directives of the targeted field, not those of Cache-Control', () => {
    const d = decide({ 'cdn-cache-control': 'max-age=1, stale-if-error=60', 'cache-control': 'max-age=1, must-revalidate' })
    expect(d.store && d.freshness.mustRevalidate).toBe(false)
    expect(d.store && d.freshness.staleIfError).toBe(60_000)
  })
})
