import { describe, expect, it } from 'vitest'
import { createBalancer } from '../../src/upstream/index.js'
import { type StubBackend, ctx, pick, poolSettings, stub } from './helpers.js'

describe('least-response-time', () => {
  it('weighs in-flight requests by the moving-average response time', () => {
    const bs = [stub('fast'), stub('slow')]
    bs[0]!.responseTimeMs = 10
    bs[1]!.responseTimeMs = 40
    const lb = createBalancer(poolSettings({ algorithm: 'least-response-time' }))
    // Holding each chosen request open: (n+1)*10 vs (m+1)*40 → the fast one takes ~4x the concurrency.
    for (let i = 0; i < 100; i++) (pick(lb.candidates(bs, ctx())) as StubBackend).activeRequests++
    expect(bs[0]!.activeRequests).toBeGreaterThanOrEqual(78)
    expect(bs[0]!.activeRequests).toBeLessThanOrEqual(82)
  })

  it('gives a backend without measurements a neutral start (the average of the others)', () => {
    const bs = [stub('a'), stub('b'), stub('new')]
    bs[0]!.responseTimeMs = 20
    bs[1]!.responseTimeMs = 60
    const lb = createBalancer(poolSettings({ algorithm: 'least-response-time' }))
    for (let i = 0; i < 120; i++) (pick(lb.candidates(bs, ctx())) as StubBackend).activeRequests++
    // Scores ∝ 20, 60 and a neutral 40: shares 6:2:3 → 65, 22, 33 (±2).
    expect(bs[0]!.activeRequests).toBeGreaterThanOrEqual(63)
    expect(bs[0]!.activeRequests).toBeLessThanOrEqual(67)
    expect(bs[2]!.activeRequests).toBeGreaterThanOrEqual(31)
    expect(bs[2]!.activeRequests).toBeLessThanOrEqual(35)
  })

  it('behaves as least-connections with tie rotation before any measurement', () => {
    const bs = [stub('a'), stub('b')]
    const lb = createBalancer(poolSettings({ algorithm: 'least-response-time' }))
    const seq = Array.from({ length: 4 }, () => pick(lb.candidates(bs, ctx()))!.origin.slice(7, 8)).join('')
    expect(seq).toBe('abab')
  })
})
