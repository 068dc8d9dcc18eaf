import { describe, expect, it } from 'vitest'
import { createBalancer } from '../../src/upstream/index.js'
import { ctx, ManualClock, pick, poolSettings, seededRandom, stub, tally } from './helpers.js'

const healthCheck = { path: '/health', interval: 1000, timeout: 500, healthyThreshold: 1, unhealthyThreshold: 1, expectStatus: [[200, 399]] as const }
const N = 20_000

describe('resource-based', () => {
  it('sends traffic in proportion to spare capacity (loads 0.2 / 0.8 → 80% / 20%, ±1.5 points)', () => {
    const clock = new ManualClock()
    const bs = [stub('cool'), stub('hot')]
    bs[0]!.load = { value: 0.2, at: clock.now() }
    bs[1]!.load = { value: 0.8, at: clock.now() }
    const lb = createBalancer(poolSettings({ algorithm: 'resource-based', healthCheck }), { clock, random: seededRandom(5) })
    const counts = tally(N, () => pick(lb.candidates(bs, ctx())))
    expect(Math.abs(counts.get(bs[0]!.origin)! / N - 0.8)).toBeLessThan(0.015)
  })

  it('follows a change in reported load', () => {
    const clock = new ManualClock()
    const bs = [stub('a'), stub('b')]
    bs[0]!.load = { value: 0.9, at: clock.now() }
    bs[1]!.load = { value: 0.1, at: clock.now() }
    const lb = createBalancer(poolSettings({ algorithm: 'resource-based', healthCheck }), { clock, random: seededRandom(6) })
    expect(tally(N, () => pick(lb.candidates(bs, ctx()))).get(bs[1]!.origin)! / N).toBeGreaterThan(0.88)
    clock.advance(1000)
    bs[0]!.load = { value: 0.1, at: clock.now() }
    bs[1]!.load = { value: 0.9, at: clock.now() }
    expect(tally(N, () => pick(lb.candidates(bs, ctx()))).get(bs[0]!.origin)! / N).toBeGreaterThan(0.88)
  })

  it('falls back to least-connections when a report is older than three health intervals', () => {
    const clock = new ManualClock()
    const bs = [stub('a'), stub('b')]
    bs[0]!.load = { value: 0.0, at: clock.now() }
    bs[1]!.load = { value: 0.9, at: clock.now() }
    bs[0]!.activeRequests = 5
    const lb = createBalancer(poolSettings({ algorithm: 'resource-based', healthCheck }), { clock, random: seededRandom(7) })
    clock.advance(2999)
    const fresh = tally(1000, () => pick(lb.candidates(bs, ctx())))
    expect(fresh.get(bs[0]!.origin)! / 1000).toBeGreaterThan(0.85) // reports still believed
    clock.advance(2)
    for (let i = 0; i < 20; i++) expect(pick(lb.candidates(bs, ctx()))).toBe(bs[1]) // fewer in flight wins
  })

  it('falls back to least-connections when a backend has never reported', () => {
    const clock = new ManualClock()
    const bs = [stub('a'), stub('b')]
    bs[0]!.load = { value: 0.0, at: clock.now() }
    bs[0]!.activeRequests = 3
    const lb = createBalancer(poolSettings({ algorithm: 'resource-based', healthCheck }), { clock, random: seededRandom(8) })
    expect(pick(lb.candidates(bs, ctx()))).toBe(bs[1])
  })
})
