import { describe, expect, it } from 'vitest'
import { createBalancer } from '../../src/upstream/index.js'
import { ctx, pick, poolSettings, stub, tally } from './helpers.js'

const IPS = Array.from({ length: 10_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)
const settings = poolSettings({ algorithm: 'ip-hash' })

describe('ip-hash', () => {
  it('sends one client IP to the same backend every time', () => {
    const bs = ['a', 'b', 'c'].map((n) => stub(n))
    const lb = createBalancer(settings)
    const first = pick(lb.candidates(bs, ctx('203.0.113.9')))
    for (let i = 0; i < 20; i++) expect(pick(lb.candidates(bs, ctx('203.0.113.9')))).toBe(first)
  })

  it('spreads clients by weight (1:1:2 → 25/25/50%, ±3 points)', () => {
    const bs = [stub('a', 1), stub('b', 1), stub('c', 2)]
    const lb = createBalancer(settings)
    const counts = tally(IPS.length, (i) => pick(lb.candidates(bs, ctx(IPS[i]))))
    const share = (i: number): number => counts.get(bs[i]!.origin)! / IPS.length
    expect(share(0)).toBeGreaterThan(0.22)
    expect(share(0)).toBeLessThan(0.28)
    expect(share(2)).toBeGreaterThan(0.47)
    expect(share(2)).toBeLessThan(0.53)
  })

  it('moves only the clients of an unavailable backend', () => {
    const bs = ['a', 'b', 'c', 'd'].map((n) => stub(n))
    const lb = createBalancer(settings)
    const before = IPS.map((ip) => pick(lb.candidates(bs, ctx(ip))))
    bs[0]!.available = false
    const after = IPS.map((ip) => pick(lb.candidates(bs, ctx(ip))))
    IPS.forEach((_, i) => {
      if (before[i] !== bs[0]) expect(after[i]).toBe(before[i])
      else expect(after[i]).not.toBe(bs[0])
    })
  })
})
