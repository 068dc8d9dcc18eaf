import { describe, expect, it } from 'vitest'
import { createBalancer } from '../../src/upstream/index.js'
import { ctx, pick, poolSettings, stub } from './helpers.js'

describe('round-robin', () => {
  it('rotates strictly over all backends, ignoring weights', () => {
    const bs = [stub('a', 1), stub('b', 5), stub('c', 1)]
    const lb = createBalancer(poolSettings({ algorithm: 'round-robin' }))
    const seq = Array.from({ length: 9 }, () => pick(lb.candidates(bs, ctx()))!.origin)
    expect(seq).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2].map((i) => bs[i]!.origin))
  })

  it('rotates over the available ones only, without giving a skipped turn to one backend twice', () => {
    const bs = [stub('a'), stub('b'), stub('c'), stub('d')]
    bs[1]!.available = false
    const lb = createBalancer(poolSettings({ algorithm: 'round-robin' }))
    const seq = Array.from({ length: 6 }, () => pick(lb.candidates(bs, ctx()))!.origin)
    expect(seq).toEqual(['a', 'c', 'd', 'a', 'c', 'd'].map((n) => `http://${n}.test:80`))
  })

  it('yields the first choice, then every other available backend once, for retries', () => {
    const bs = [stub('a'), stub('b'), stub('c')]
    bs[2]!.available = false
    const lb = createBalancer(poolSettings({ algorithm: 'round-robin' }))
    expect([...lb.candidates(bs, ctx())].map((b) => b.origin)).toEqual([bs[0]!.origin, bs[1]!.origin])
    expect([...lb.candidates(bs, ctx())].map((b) => b.origin)).toEqual([bs[1]!.origin, bs[0]!.origin])
  })

  it('yields nothing when no backend is available', () => {
    const bs = [stub('a'), stub('b')]
    for (const b of bs) b.available = false
    const lb = createBalancer(poolSettings({ algorithm: 'round-robin' }))
    expect([...lb.candidates(bs, ctx())]).toEqual([])
  })
})
