import { describe, expect, it } from 'vitest'
import type { KeySource, SplitTarget } from '../../src/config/model.js'
import { createSplitSelector, stickyHash, withWeights } from '../../src/routing/split.js'
import { readCookie } from '../../src/net/cookies.js'
import type { SplitInput, SplitSelector } from '../../src/routing/types.js'
import { route } from './route-fixtures.js'

function input(headers: SplitInput['headers'] = {}, clientIp = '10.0.0.1', claims?: Record<string, unknown>): SplitInput {
  return { headers, clientIp, claims }
}

function selector(split: SplitTarget[], extra: { sticky?: KeySource; override?: string; ttl?: number } = {}): SplitSelector {
  return createSplitSelector(
    route('users', { path: '/api/users' }, { split, sticky: extra.sticky, override: extra.override, stickyCookie: { ttl: extra.ttl ?? 3_600_000 } }),
  )
}

/** Counts per pool over n choices. */
function tally(n: number, pick: (i: number) => string): Map<string, number> {
  const m = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const p = pick(i)
    m.set(p, (m.get(p) ?? 0) + 1)
  }
  return m
}

/** Asserts observed shares are within 5 standard deviations of the weights. */
function expectShares(counts: Map<string, number>, n: number, weights: Record<string, number>): void {
  const total = Object.values(weights).reduce((a, b) => a + b, 0)
  for (const [pool, w] of Object.entries(weights)) {
    const p = w / total
    const observed = (counts.get(pool) ?? 0) / n
    const sigma = Math.sqrt((p * (1 - p)) / n)
    expect(Math.abs(observed - p), `${pool}: observed ${observed}, expected ${p}`).toBeLessThanOrEqual(5 * sigma + 1e-9)
  }
}

describe('split selection', () => {
  it('sends everything to a single pool with reason "single"', () => {
    const s = selector([{ pool: 'only', weight: 1 }], { sticky: { kind: 'cookie', name: 'sy' } })
    expect(s.choose(input())).toEqual({ pool: 'only', reason: 'single' })
  })

  it('draws by weight without sticky: observed shares match the weights', () => {
    const weights = { a: 1, b: 2, c: 7, off: 0 }
    const s = selector(Object.entries(weights).map(([pool, weight]) => ({ pool, weight })))
    const n = 20_000
    const reasons = new Set<string>()
    const counts = tally(n, () => {
      const d = s.choose(input())
      reasons.add(d.reason)
      return d.pool
    })
    expect(reasons).toEqual(new Set(['weighted']))
    expectShares(counts, n, weights)
    expect(counts.get('off')).toBeUndefined()
  })

  it('keeps weights of any integer sum exact in proportion (90/10)', () => {
    const s = selector([
      { pool: 'v1', weight: 90 },
      { pool: 'v2', weight: 10 },
    ])
    const n = 20_000
    expectShares(
      tally(n, () => s.choose(input()).pool),
      n,
      { v1: 90, v2: 10 },
    )
  })

  it('keeps the same key on the same pool across 1,000 keys, calls and selector rebuilds', () => {
    const split = [
      { pool: 'v1', weight: 70 },
      { pool: 'v2', weight: 30 },
    ]
    const a = selector(split, { sticky: { kind: 'header', name: 'x-user-id' } })
    const b = selector(split, { sticky: { kind: 'header', name: 'x-user-id' } })
    for (let i = 0; i < 1000; i++) {
      const h = { 'x-user-id': `user-${i}` }
      const first = a.choose(input(h))
      expect(first.reason).toBe('sticky')
      expect(first.stickyKey).toBe(`user-${i}`)
      for (let k = 0; k < 3; k++) expect(a.choose(input(h)).pool).toBe(first.pool)
      expect(b.choose(input(h)).pool).toBe(first.pool)
    }
  })

  it('scores pools with the exported stickyHash exactly as it chooses (explain relies on it)', () => {
    const split = [
      { pool: 'v1', weight: 5 },
      { pool: 'v2', weight: 3 },
      { pool: 'v3', weight: 0 },
      { pool: 'v4', weight: 2 },
    ]
    const s = selector(split, { sticky: { kind: 'header', name: 'k' } })
    for (let i = 0; i < 500; i++) {
      const key = `key-${i}`
      let best = ''
      let bestScore = -1
      for (const t of split) {
        if (t.weight === 0) continue
        const h = stickyHash('users', key, t.pool)
        expect(h).toBeGreaterThan(0)
        expect(h).toBeLessThan(1)
        const score = -t.weight / Math.log(h)
        if (score > bestScore) [best, bestScore] = [t.pool, score]
      }
      expect(s.choose(input({ k: key })).pool).toBe(best)
    }
  })

  it('spreads sticky keys across pools in proportion to the weights', () => {
    const weights = { v1: 60, v2: 30, v3: 10 }
    const s = selector(
      Object.entries(weights).map(([pool, weight]) => ({ pool, weight })),
      { sticky: { kind: 'header', name: 'x-user-id' } },
    )
    const n = 20_000
    expectShares(
      tally(n, (i) => s.choose(input({ 'x-user-id': String(i) })).pool),
      n,
      weights,
    )
  })

  it('grows the canary cohort monotonically: raising its weight only moves clients onto it', () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `client-${i}`)
    let prev: string[] | undefined
    let prevCanary = -1
    for (const w of [0, 1, 5, 10, 25, 50, 100, 400]) {
      const s = selector(
        [
          { pool: 'stable', weight: 60 },
          { pool: 'beta', weight: 40 },
          { pool: 'canary', weight: w },
        ],
        { sticky: { kind: 'header', name: 'x-user-id' } },
      )
      const now = keys.map((k) => s.choose(input({ 'x-user-id': k })).pool)
      const canary = now.filter((p) => p === 'canary').length
      expect(canary).toBeGreaterThanOrEqual(prevCanary)
      if (prev !== undefined) {
        for (let i = 0; i < keys.length; i++) {
          // Never off the canary; never between the others.
          if (prev[i] === 'canary') expect(now[i]).toBe('canary')
          else if (now[i] !== 'canary') expect(now[i]).toBe(prev[i])
        }
      }
      prev = now
      prevCanary = canary
    }
    expect(prevCanary).toBeGreaterThan(1500)
  })

  it('gives different routes independent cohorts for the same key', () => {
    const split = [
      { pool: 'a', weight: 1 },
      { pool: 'b', weight: 1 },
    ]
    const r1 = createSplitSelector(route('one', {}, { split, sticky: { kind: 'header', name: 'k' } }))
    const r2 = createSplitSelector(route('two', {}, { split, sticky: { kind: 'header', name: 'k' } }))
    const n = 4000
    let same = 0
    for (let i = 0; i < n; i++) if (r1.choose(input({ k: `u${i}` })).pool === r2.choose(input({ k: `u${i}` })).pool) same++
    expect(Math.abs(same / n - 0.5)).toBeLessThan(5 * Math.sqrt(0.25 / n))
  })

  it('assigns a missing cookie key by weight and sets it on the response', () => {
    const s = selector(
      [
        { pool: 'v1', weight: 50 },
        { pool: 'v2', weight: 50 },
      ],
      { sticky: { kind: 'cookie', name: 'sy_cohort' }, ttl: 86_400_000 },
    )
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) {
      const d = s.choose(input({ cookie: 'other=1' }))
      expect(d.reason).toBe('sticky')
      expect(d.setCookie).toMatch(/^sy_cohort=[0-9a-f-]{36}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=86400$/)
      const id = d.setCookie!.slice('sy_cohort='.length, d.setCookie!.indexOf(';'))
      expect(d.stickyKey).toBe(id)
      // The cookie sent back reaches the pool it was assigned to, and is not set again.
      const again = s.choose(input({ cookie: `a=b; sy_cohort=${id}; c=d` }))
      expect(again).toEqual({ pool: d.pool, reason: 'sticky', stickyKey: id })
      seen.add(d.pool)
    }
    expect(seen).toEqual(new Set(['v1', 'v2']))
  })

  it('sets a session cookie (no Max-Age) when the cookie lifetime is zero', () => {
    const s = selector(
      [
        { pool: 'v1', weight: 1 },
        { pool: 'v2', weight: 1 },
      ],
      { sticky: { kind: 'cookie', name: 'c' }, ttl: 0 },
    )
    expect(s.choose(input()).setCookie).toMatch(/^c=[0-9a-f-]+; Path=\/; HttpOnly; SameSite=Lax$/)
  })

  it('falls back to a weighted draw when a header, ip or jwt key is missing', () => {
    const split = [
      { pool: 'v1', weight: 1 },
      { pool: 'v2', weight: 1 },
    ]
    expect(selector(split, { sticky: { kind: 'header', name: 'x-user-id' } }).choose(input({ 'x-user-id': '' })).reason).toBe('weighted')
    expect(selector(split, { sticky: { kind: 'jwt', claim: 'sub' } }).choose(input({}, '1.2.3.4', undefined)).reason).toBe('weighted')
    expect(selector(split, { sticky: { kind: 'ip' } }).choose(input({}, '')).reason).toBe('weighted')
  })

  it('keys on the client ip and on a jwt claim', () => {
    const split = [
      { pool: 'v1', weight: 1 },
      { pool: 'v2', weight: 1 },
    ]
    const byIp = selector(split, { sticky: { kind: 'ip' } })
    const d = byIp.choose(input({}, '192.0.2.7'))
    expect(d).toMatchObject({ reason: 'sticky', stickyKey: '192.0.2.7' })
    expect(byIp.choose(input({}, '192.0.2.7')).pool).toBe(d.pool)
    const byClaim = selector(split, { sticky: { kind: 'jwt', claim: 'sub' } })
    const j = byClaim.choose(input({}, '1.1.1.1', { sub: 'alice' }))
    expect(j).toMatchObject({ reason: 'sticky', stickyKey: 'alice' })
    expect(byClaim.choose(input({}, '2.2.2.2', { sub: 'alice' })).pool).toBe(j.pool)
    expect(byClaim.choose(input({}, '2.2.2.2', { sub: 42 })).stickyKey).toBe('42')
  })

  it('keys on a query parameter or the path when the request passes them', () => {
    const split = [
      { pool: 'v1', weight: 1 },
      { pool: 'v2', weight: 1 },
    ]
    const byQuery = selector(split, { sticky: { kind: 'query', name: 'user' } })
    const q = byQuery.choose({ ...input(), query: 'a=1&user=bob' })
    expect(q).toMatchObject({ reason: 'sticky', stickyKey: 'bob' })
    expect(byQuery.choose({ ...input(), query: 'user=bob&z=2' }).pool).toBe(q.pool)
    expect(byQuery.choose({ ...input(), query: 'a=1' }).reason).toBe('weighted')
    const byPath = selector(split, { sticky: { kind: 'path' } })
    expect(byPath.choose({ ...input(), path: '/api/x' })).toMatchObject({ reason: 'sticky', stickyKey: '/api/x' })
  })

  it('honours the override header only when it names a pool of the split', () => {
    const s = selector(
      [
        { pool: 'v1', weight: 100 },
        { pool: 'v2', weight: 0 },
      ],
      { override: 'x-switchyard-pool', sticky: { kind: 'cookie', name: 'sy' } },
    )
    expect(s.overrideHeader).toBe('x-switchyard-pool')
    // A zero-weight pool is reachable by override: that is how a canary is tried before it gets traffic.
    expect(s.choose(input({ 'x-switchyard-pool': 'v2' }))).toEqual({ pool: 'v2', reason: 'override' })
    expect(s.choose(input({ 'x-switchyard-pool': 'v1' }))).toEqual({ pool: 'v1', reason: 'override' })
    for (const other of ['users-static', 'V2', '', 'v1,v2']) {
      const d = s.choose(input({ 'x-switchyard-pool': other }))
      expect(d.reason).toBe('sticky')
      expect(d.pool).toBe('v1')
    }
  })

  it('reads a cookie among others, quoted or not', () => {
    expect(readCookie('a=1; sy=abc; b=2', 'sy')).toBe('abc')
    expect(readCookie('sy="q v"', 'sy')).toBe('q v')
    expect(readCookie('xsy=1; sy=2', 'sy')).toBe('2')
    expect(readCookie('sy=', 'sy')).toBeUndefined()
    expect(readCookie('a=1', 'sy')).toBeUndefined()
    expect(readCookie(undefined, 'sy')).toBeUndefined()
  })
})

describe('runtime weights (withWeights)', () => {
  const base = selector(
    [
      { pool: 'v1', weight: 90 },
      { pool: 'v2', weight: 10 },
    ],
    { sticky: { kind: 'header', name: 'x-user-id' }, override: 'x-pool' },
  )

  it('returns a new selector with the named weights changed and the others kept', () => {
    const next = withWeights(base, { v2: 50 })
    expect(next).not.toBe(base)
    expect(next.targets).toEqual([
      { pool: 'v1', weight: 90 },
      { pool: 'v2', weight: 50 },
    ])
    expect(base.targets[1].weight).toBe(10)
    expect(next.sticky).toEqual(base.sticky)
    expect(next.overrideHeader).toBe('x-pool')
  })

  it('allows zero for some pools, and moves every client of a drained pool away', () => {
    const next = withWeights(base, { v1: 0, v2: 1 })
    for (let i = 0; i < 200; i++) expect(next.choose(input({ 'x-user-id': `k${i}` })).pool).toBe('v2')
  })

  it('refuses a pool that is not in the split with 400 SWITCHYARD_SPLIT_UNKNOWN_POOL', () => {
    expect(() => withWeights(base, { v3: 1 })).toThrow(expect.objectContaining({ statusCode: 400, code: 'SWITCHYARD_SPLIT_UNKNOWN_POOL' }))
    expect(() => withWeights(base, { v3: 1 })).toThrow(/no pool "v3"/)
  })

  it('refuses negative, fractional, non-numeric, empty and all-zero weights with 400 SWITCHYARD_SPLIT_BAD_WEIGHTS', () => {
    for (const bad of [{ v1: -1 }, { v1: 1.5 }, { v1: '5' }, { v1: null }, { v1: Number.NaN }, {}, { v1: 0, v2: 0 }] as Record<string, unknown>[]) {
      expect(() => withWeights(base, bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ statusCode: 400, code: 'SWITCHYARD_SPLIT_BAD_WEIGHTS' }))
    }
  })
})
