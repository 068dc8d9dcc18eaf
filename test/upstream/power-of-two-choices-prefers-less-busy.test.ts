import { describe, expect, it } from 'vitest'
import { createBalancer } from '../../src/upstream/index.js'
import { type StubBackend, ctx, pick, poolSettings, seededRandom, stub, tally } from './helpers.js'

describe('power-of-two-choices', () => {
  it('of two drawn candidates, sends to the one with fewer in flight', () => {
    const bs = [stub('idle'), stub('busy')]
    bs[1]!.activeRequests = 10
    const lb = createBalancer(poolSettings({ algorithm: 'power-of-two-choices' }), { random: seededRandom(1) })
    // With two backends both are always drawn: the idle one wins every time.
    for (let i = 0; i < 100; i++) expect(pick(lb.candidates(bs, ctx()))).toBe(bs[0])
  })

  it('never sends to the busiest of three (it always loses its pairing)', () => {
    const bs = [stub('a'), stub('b'), stub('c')]
    bs[0]!.activeRequests = 1
    bs[1]!.activeRequests = 2
    bs[2]!.activeRequests = 9
    const lb = createBalancer(poolSettings({ algorithm: 'power-of-two-choices' }), { random: seededRandom(2) })
    const counts = tally(3000, () => pick(lb.candidates(bs, ctx())))
    expect(counts.get(bs[2]!.origin)).toBeUndefined()
    // a wins both its pairings, b only against c: a ≈ 2/3, b ≈ 1/3 (±3 points).
    expect(Math.abs(counts.get(bs[0]!.origin)! / 3000 - 2 / 3)).toBeLessThan(0.03)
  })

  it('keeps concurrency balanced under held load (spread ≤ 3 over 400 requests)', () => {
    const bs = ['a', 'b', 'c', 'd'].map((n) => stub(n))
    const lb = createBalancer(poolSettings({ algorithm: 'power-of-two-choices' }), { random: seededRandom(3) })
    for (let i = 0; i < 400; i++) (pick(lb.candidates(bs, ctx())) as StubBackend).activeRequests++
    const counts = bs.map((b) => b.activeRequests)
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(3)
  })

  it('draws by weight when backends are idle (1:3, ±2 points)', () => {
    const bs = [stub('a', 1), stub('b', 3), stub('c', 0.0001)]
    bs[2]!.available = false
    const lb = createBalancer(poolSettings({ algorithm: 'power-of-two-choices' }), { random: seededRandom(4) })
    // Both idle: the first draw wins ties; it is weighted.
    const counts = tally(10_000, () => pick(lb.candidates(bs, ctx())))
    expect(Math.abs(counts.get(bs[1]!.origin)! / 10_000 - 0.75)).toBeLessThan(0.02)
  })
})
