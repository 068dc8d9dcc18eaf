import { describe, expect, it } from 'vitest'
import { createBalancer } from '../../src/upstream/index.js'
import { ctx, pick, poolSettings, seededRandom, stub, tally } from './helpers.js'

const N = 20_000

describe('random', () => {
  it('draws backends in proportion to weight (1:2:5, ±1.5 points)', () => {
    const bs = [stub('a', 1), stub('b', 2), stub('c', 5)]
    const lb = createBalancer(poolSettings({ algorithm: 'random' }), { random: seededRandom(7) })
    const counts = tally(N, () => pick(lb.candidates(bs, ctx())))
    const expected = [1 / 8, 2 / 8, 5 / 8]
    bs.forEach((b, i) => expect(Math.abs(counts.get(b.origin)! / N - expected[i]!)).toBeLessThan(0.015))
  })

  it('redistributes an unavailable backend share over the others by weight', () => {
    const bs = [stub('a', 1), stub('b', 3), stub('c', 4)]
    bs[2]!.available = false
    const lb = createBalancer(poolSettings({ algorithm: 'random' }), { random: seededRandom(8) })
    const counts = tally(N, () => pick(lb.candidates(bs, ctx())))
    expect(counts.get(bs[2]!.origin)).toBeUndefined()
    expect(Math.abs(counts.get(bs[0]!.origin)! / N - 0.25)).toBeLessThan(0.015)
  })

  it('yields each available backend once as retry candidates', () => {
    const bs = [stub('a'), stub('b'), stub('c')]
    const lb = createBalancer(poolSettings({ algorithm: 'random' }), { random: seededRandom(9) })
    for (let i = 0; i < 50; i++) expect(new Set(lb.candidates(bs, ctx())).size).toBe(3)
  })
})
