import { describe, expect, it } from 'vitest'
import { createBalancer } from '../../src/upstream/index.js'
import { ctx, pick, poolSettings, stub } from './helpers.js'

describe('weighted-round-robin', () => {
  it('gives each backend exactly its weight per cycle', () => {
    const bs = [stub('a', 5), stub('b', 2), stub('c', 1)]
    const lb = createBalancer(poolSettings({ algorithm: 'weighted-round-robin' }))
    for (let cycle = 0; cycle < 5; cycle++) {
      const counts = new Map<string, number>()
      for (let i = 0; i < 8; i++) {
        const o = pick(lb.candidates(bs, ctx()))!.origin
        counts.set(o, (counts.get(o) ?? 0) + 1)
      }
      expect(counts.get(bs[0]!.origin)).toBe(5)
      expect(counts.get(bs[1]!.origin)).toBe(2)
      expect(counts.get(bs[2]!.origin)).toBe(1)
    }
  })

  it('interleaves instead of sending a block to the heaviest backend (weights 5,1,1 → a a b a c a a)', () => {
    const bs = [stub('a', 5), stub('b', 1), stub('c', 1)]
    const lb = createBalancer(poolSettings({ algorithm: 'weighted-round-robin' }))
    const seq = Array.from({ length: 14 }, () => pick(lb.candidates(bs, ctx()))!.origin.slice(7, 8)).join('')
    expect(seq).toBe('aabacaaaabacaa')
    // Never more than weight-share-bounded runs: with 5 of 7, no run longer than 4 across cycles.
    expect(seq).not.toMatch(/a{5}/)
  })

  it('keeps exact shares among the available backends when one is out', () => {
    const bs = [stub('a', 3), stub('b', 1), stub('c', 4)]
    bs[2]!.available = false
    const lb = createBalancer(poolSettings({ algorithm: 'weighted-round-robin' }))
    const seq = Array.from({ length: 8 }, () => pick(lb.candidates(bs, ctx()))!.origin.slice(7, 8))
    expect(seq.filter((x) => x === 'a')).toHaveLength(6)
    expect(seq.filter((x) => x === 'b')).toHaveLength(2)
  })
})
