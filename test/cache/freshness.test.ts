import { describe, expect, it } from 'vitest'
import { requestDirectives } from '../../src/cache/cache-control.js'
import { ageSeconds, currentAge, decideStore, evaluate, initialAge, mayServeStaleOnError, type CacheRules, type FreshnessFacts } from '../../src/cache/policy.js'

const T0 = Date.parse('2026-01-01T00:00:00Z')
const rules: CacheRules = { ttl: 0, staleWhileRevalidate: 0, staleIfError: 0, maxEntrySize: 1 << 20 }
const none = requestDirectives({})

function facts(cc: string, r: Partial<CacheRules> = {}, extra: Record<string, string> = {}): FreshnessFacts {
  const d = decideStore(
    { method: 'GET', requestHeaders: {}, status: 200, responseHeaders: { date: new Date(T0).toUTCString(), 'cache-control': cc, etag: '"e"', ...extra }, requestTime: T0, responseTime: T0 },
    { ...rules, ...r },
  )
  if (!d.store) throw new Error(`not stored: ${d.reason}`)
  return d.freshness
}

describe('age (RFC 9111 §4.2.3)', () => {
  it('counts Age, response delay and apparent age from Date', () => {
    expect(initialAge({ age: '10' }, T0, T0 + 500)).toBe(10_500)
    expect(initialAge({ date: new Date(T0 - 20_000).toUTCString() }, T0, T0)).toBe(20_000)
  })
  it('reads a list-valued Age by its first member (one line or several), as RFC 9111 §5.1 says', () => {
    expect(ageSeconds('0, 7200')).toBe(0)
    expect(ageSeconds('7200, 0')).toBe(7200)
    expect(ageSeconds(['0', '7200'])).toBe(0)
    expect(ageSeconds(['7200', '0'])).toBe(7200)
    expect(ageSeconds(['3600', '3600'])).toBe(3600)
    expect(initialAge({ age: ['7200', '0'] as unknown as string }, T0, T0)).toBe(7_200_000)
    expect(initialAge({ age: '0, 0' }, T0, T0)).toBe(0)
  })
  it('ignores an invalid Age (non-numeric, negative, fraction, parameters) as if absent', () => {
    for (const age of ['junk', '-7200', '7200.0', '7200;foo=bar', '', ' , 5']) expect(ageSeconds(age), age).toBeUndefined()
    for (const age of ['abc', '-7200', '7200.0']) {
      const d = decideStore(
        { method: 'GET', requestHeaders: {}, status: 200, responseHeaders: { 'cache-control': 'max-age=3600', age }, requestTime: T0, responseTime: T0 },
        rules,
      )
      expect(d.store && evaluate(d.freshness, none, T0 + 1000), age).toBe('fresh')
    }
  })
  it('caps Age at 2^31 seconds, so a huge Age is stale, not an overflow', () => {
    expect(ageSeconds('2147483647')).toBe(2147483647)
    expect(ageSeconds('99999999999999')).toBe(2147483648)
    const d = decideStore(
      { method: 'GET', requestHeaders: {}, status: 200, responseHeaders: { 'cache-control': 'max-age=3600', age: '2147483649', etag: '"e"' }, requestTime: T0, responseTime: T0 },
      rules,
    )
    expect(d.store && evaluate(d.freshness, none, T0)).toBe('revalidate')
  })
  it('grows with resident time on an injected clock', () => {
    const f = facts('max-age=60')
    expect(currentAge(f, T0 + 15_000)).toBe(15_000)
  })
})

describe('reuse decisions', () => {
  it('revalidates an immutable response once past its freshness (RFC 8246 grants no extra lifetime)', () => {
    const f = facts('max-age=2, immutable')
    expect(evaluate(f, none, T0 + 1_000)).toBe('fresh')
    expect(evaluate(f, none, T0 + 3_000)).toBe('revalidate')
  })

  it('as a shared cache, takes s-maxage over max-age in either order (§5.2.2.10)', () => {
    expect(evaluate(facts('s-maxage=3600, max-age=1'), none, T0 + 2_000)).toBe('fresh')
    expect(evaluate(facts('max-age=3600, s-maxage=1'), none, T0 + 2_000)).toBe('revalidate')
  })

  it('serves fresh entries and revalidates stale ones', () => {
    const f = facts('max-age=60')
    expect(evaluate(f, none, T0 + 59_000)).toBe('fresh')
    expect(evaluate(f, none, T0 + 60_000)).toBe('revalidate')
  })

  it('an entry that arrived with Age is stale sooner', () => {
    const f = facts('max-age=60', {}, { age: '50' })
    expect(evaluate(f, none, T0 + 9_000)).toBe('fresh')
    expect(evaluate(f, none, T0 + 10_000)).toBe('revalidate')
  })

  it('request no-cache, Pragma: no-cache and max-age=0 force revalidation of a fresh entry', () => {
    const f = facts('max-age=60')
    expect(evaluate(f, requestDirectives({ 'cache-control': 'no-cache' }), T0 + 1000)).toBe('revalidate')
    expect(evaluate(f, requestDirectives({ pragma: 'no-cache' }), T0 + 1000)).toBe('revalidate')
    expect(evaluate(f, requestDirectives({ 'cache-control': 'max-age=0' }), T0)).toBe('revalidate')
    expect(evaluate(f, requestDirectives({ 'cache-control': 'max-age=5' }), T0 + 6000)).toBe('revalidate')
    expect(evaluate(f, requestDirectives({ 'cache-control': 'max-age=5' }), T0 + 4000)).toBe('fresh')
    expect(evaluate(f, requestDirectives({ 'cache-control': 'min-fresh=30' }), T0 + 40_000)).toBe('revalidate')
  })

  it('must-revalidate applies only once stale', () => {
    const f = facts('max-age=60, must-revalidate', { staleWhileRevalidate: 30_000 })
    expect(evaluate(f, none, T0 + 30_000)).toBe('fresh')
    expect(evaluate(f, none, T0 + 61_000)).toBe('revalidate')
    expect(evaluate(f, requestDirectives({ 'cache-control': 'max-stale' }), T0 + 61_000)).toBe('revalidate')
  })

  it('serves stale within stale-while-revalidate, then revalidates', () => {
    const f = facts('max-age=60', { staleWhileRevalidate: 10_000 })
    expect(evaluate(f, none, T0 + 65_000)).toBe('stale-while-revalidate')
    expect(evaluate(f, none, T0 + 70_000)).toBe('revalidate')
  })

  it('honours request max-stale', () => {
    const f = facts('max-age=60')
    expect(evaluate(f, requestDirectives({ 'cache-control': 'max-stale=10' }), T0 + 65_000)).toBe('stale-allowed')
    expect(evaluate(f, requestDirectives({ 'cache-control': 'max-stale=1' }), T0 + 65_000)).toBe('revalidate')
  })

  it('allows stale-if-error within its window only, never with must-revalidate', () => {
    const f = facts('max-age=60', { staleIfError: 300_000 })
    expect(mayServeStaleOnError(f, T0 + 200_000)).toBe(true)
    expect(mayServeStaleOnError(f, T0 + 360_000)).toBe(false)
    expect(mayServeStaleOnError(facts('max-age=60, must-revalidate', { staleIfError: 300_000 }), T0 + 61_000)).toBe(false)
    expect(mayServeStaleOnError(facts('max-age=60, stale-if-error=100'), T0 + 150_000)).toBe(true)
  })
})
