import { describe, expect, it } from 'vitest'
import { createBalancer } from '../../src/upstream/index.js'
import type { Backend } from '../../src/upstream/types.js'
import { ctx, pick, poolSettings, stub, tally } from './helpers.js'

const KEYS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`)
const settings = poolSettings({ algorithm: 'consistent-hash', hashOn: { kind: 'header', name: 'x-user-id' } })

function assign(bs: readonly Backend[], lb = createBalancer(settings)): Map<string, string> {
  return new Map(KEYS.map((k) => [k, pick(lb.candidates(bs, ctx('10.0.0.1', k)))!.origin]))
}

describe('consistent-hash', () => {
  it('maps the same key to the same backend every time, on any balancer instance', () => {
    const bs = ['a', 'b', 'c', 'd'].map((n) => stub(n))
    expect(assign(bs)).toEqual(assign(bs))
  })

  it('moves only the keys of a backend that becomes unavailable (and they come back when it does)', () => {
    const bs = ['a', 'b', 'c', 'd', 'e'].map((n) => stub(n))
    const lb = createBalancer(settings)
    const before = assign(bs, lb)
    bs[2]!.available = false
    const during = assign(bs, lb)
    let moved = 0
    for (const k of KEYS) {
      if (before.get(k) === bs[2]!.origin) expect(during.get(k)).not.toBe(bs[2]!.origin)
      else expect(during.get(k)).toBe(before.get(k)) // nobody else's keys move
      if (before.get(k) !== during.get(k)) moved++
    }
    // Bound: the departed backend held ~1/5 of the keys (±25% relative).
    expect(moved / KEYS.length).toBeGreaterThan(0.15)
    expect(moved / KEYS.length).toBeLessThan(0.25)
    bs[2]!.available = true
    expect(assign(bs, lb)).toEqual(before)
  })

  it('moves only the keys of a backend removed from the configuration', () => {
    const bs = ['a', 'b', 'c', 'd', 'e'].map((n) => stub(n))
    const before = assign(bs)
    const after = assign(bs.filter((_, i) => i !== 1))
    for (const k of KEYS) if (before.get(k) !== bs[1]!.origin) expect(after.get(k)).toBe(before.get(k))
  })

  it('gives keys in proportion to weight (1:3, ±4 points)', () => {
    const bs = [stub('a', 1), stub('b', 3)]
    const lb = createBalancer(settings)
    const counts = tally(KEYS.length, (i) => pick(lb.candidates(bs, ctx('10.0.0.1', KEYS[i]))))
    expect(counts.get(bs[1]!.origin)! / KEYS.length).toBeGreaterThan(0.71)
    expect(counts.get(bs[1]!.origin)! / KEYS.length).toBeLessThan(0.79)
  })

  it('spreads keys evenly over equal backends (each 25% ±4 points)', () => {
    const bs = ['a', 'b', 'c', 'd'].map((n) => stub(n))
    const lb = createBalancer(settings)
    const counts = tally(KEYS.length, (i) => pick(lb.candidates(bs, ctx('10.0.0.1', KEYS[i]))))
    for (const b of bs) {
      expect(counts.get(b.origin)! / KEYS.length).toBeGreaterThan(0.21)
      expect(counts.get(b.origin)! / KEYS.length).toBeLessThan(0.29)
    }
  })

  it('falls back to the client IP when the request has no hash key', () => {
    const bs = ['a', 'b', 'c'].map((n) => stub(n))
    const lb = createBalancer(settings)
    expect(pick(lb.candidates(bs, ctx('192.0.2.7')))).toBe(pick(lb.candidates(bs, ctx('192.0.2.7', '192.0.2.7'))))
  })

  it('yields distinct available backends for retries, each once', () => {
    const bs = ['a', 'b', 'c', 'd'].map((n) => stub(n))
    bs[3]!.available = false
    const all = [...createBalancer(settings).candidates(bs, ctx('10.0.0.1', 'k'))]
    expect(new Set(all).size).toBe(3)
    expect(all).not.toContain(bs[3])
  })
})
