import { describe, expect, it } from 'vitest'
import { createBalancer } from '../../src/upstream/index.js'
import type { Algorithm } from '../../src/config/model.js'
import { type StubBackend, ctx, ManualClock, pick, poolSettings, seededRandom, stub, tally } from './helpers.js'

const N = 20_000

/** Share of first choices going to a backend that became available `elapsed` ms ago, with 3 steady peers. */
function rampShare(algorithm: Algorithm, elapsed: number): number {
  const clock = new ManualClock()
  const bs = ['a', 'b', 'c', 'new'].map((n) => stub(n))
  bs[3]!.availableSince = clock.now() - elapsed
  const lb = createBalancer(poolSettings({ algorithm, slowStart: 10_000 }), { clock, random: seededRandom(11) })
  return tally(N, () => pick(lb.candidates(bs, ctx()))).get(bs[3]!.origin)! / N
}

describe('slowStart', () => {
  for (const algorithm of ['weighted-round-robin', 'random', 'round-robin'] as const) {
    it(`${algorithm}: ramps a newly available backend's share linearly over the window`, () => {
      // Full share is 1/4. At 25% of the window the effective weight is 0.25 → 0.25/3.25 ≈ 7.7%;
      // round-robin skips the turn instead, giving about a quarter of a fair share too.
      const quarter = rampShare(algorithm, 2500)
      const half = rampShare(algorithm, 5000)
      const full = rampShare(algorithm, 10_000)
      expect(quarter).toBeGreaterThan(0.05)
      expect(quarter).toBeLessThan(0.1)
      expect(half).toBeGreaterThan(0.12)
      expect(half).toBeLessThan(0.17)
      expect(Math.abs(full - 0.25)).toBeLessThan(0.015)
    })
  }

  it('least-connections: a ramping backend takes its share of concurrency, not all new requests', () => {
    const clock = new ManualClock()
    const bs = [stub('a'), stub('new')]
    bs[1]!.availableSince = clock.now() - 2500 // a quarter into a 10s window
    const lb = createBalancer(poolSettings({ algorithm: 'least-connections', slowStart: 10_000 }), { clock })
    for (let i = 0; i < 100; i++) (pick(lb.candidates(bs, ctx())) as StubBackend).activeRequests++
    // Effective weights 1 : 0.25 → 80 : 20 (±2).
    expect(bs[1]!.activeRequests).toBeGreaterThanOrEqual(18)
    expect(bs[1]!.activeRequests).toBeLessThanOrEqual(22)
  })

  it('is off when slowStart is 0', () => {
    const clock = new ManualClock()
    const bs = [stub('a'), stub('new')]
    bs[1]!.availableSince = clock.now()
    const lb = createBalancer(poolSettings({ algorithm: 'weighted-round-robin', slowStart: 0 }), { clock })
    const counts = tally(100, () => pick(lb.candidates(bs, ctx())))
    expect(counts.get(bs[1]!.origin)).toBe(50)
  })
})
