import { describe, expect, it } from 'vitest'
import { createBalancer } from '../../src/upstream/index.js'
import { type StubBackend, ctx, pick, poolSettings, stub } from './helpers.js'

describe('least-connections', () => {
  it('picks the backend with the fewest requests in flight', () => {
    const bs = [stub('a'), stub('b'), stub('c')]
    bs[0]!.activeRequests = 4
    bs[1]!.activeRequests = 1
    bs[2]!.activeRequests = 3
    const lb = createBalancer(poolSettings({ algorithm: 'least-connections' }))
    expect(pick(lb.candidates(bs, ctx()))).toBe(bs[1])
    // Retry candidates follow in increasing load.
    expect([...lb.candidates(bs, ctx())]).toEqual([bs[1], bs[2], bs[0]])
  })

  it('counts in-flight requests relative to weight', () => {
    const bs = [stub('a', 1), stub('b', 4)]
    bs[0]!.activeRequests = 1
    bs[1]!.activeRequests = 3 // (3+1)/4 = 1 < (1+1)/1 = 2
    const lb = createBalancer(poolSettings({ algorithm: 'least-connections' }))
    expect(pick(lb.candidates(bs, ctx()))).toBe(bs[1])
  })

  it('rotates among tied backends instead of always picking the first', () => {
    const bs = [stub('a'), stub('b'), stub('c')]
    bs[1]!.activeRequests = 2
    const lb = createBalancer(poolSettings({ algorithm: 'least-connections' }))
    const seq = Array.from({ length: 6 }, () => pick(lb.candidates(bs, ctx()))!.origin.slice(7, 8)).join('')
    expect(seq).toBe('acacac')
  })

  it('spreads concurrent load evenly when requests are held open (distribution within ±1)', () => {
    const bs = [stub('a'), stub('b'), stub('c'), stub('d')]
    const lb = createBalancer(poolSettings({ algorithm: 'least-connections' }))
    for (let i = 0; i < 401; i++) (pick(lb.candidates(bs, ctx())) as StubBackend).activeRequests++
    const counts = bs.map((b) => b.activeRequests)
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1)
  })
})
