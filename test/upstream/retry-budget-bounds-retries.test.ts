import { describe, expect, it } from 'vitest'
import { RetryBudget } from '../../src/upstream/index.js'
import { ManualClock } from './helpers.js'

describe('retry budget', () => {
  it('allows retries up to the ratio of requests in the window', () => {
    const clock = new ManualClock()
    const budget = new RetryBudget(0.2, { clock, minPerSecond: 0 })
    for (let i = 0; i < 100; i++) budget.recordRequest()
    let allowed = 0
    for (let i = 0; i < 50; i++) if (budget.tryRetry()) allowed++
    expect(allowed).toBe(20)
  })

  it('always allows a small floor of retries per second on a quiet pool', () => {
    const clock = new ManualClock()
    const budget = new RetryBudget(0.2, { clock })
    budget.recordRequest()
    let allowed = 0
    for (let i = 0; i < 100; i++) if (budget.tryRetry()) allowed++
    expect(allowed).toBe(30) // 3/s over the 10s window
  })

  it('forgets requests and retries that slid out of the window', () => {
    const clock = new ManualClock()
    const budget = new RetryBudget(0.5, { clock, minPerSecond: 0 })
    for (let i = 0; i < 10; i++) budget.recordRequest()
    for (let i = 0; i < 5; i++) expect(budget.tryRetry()).toBe(true)
    expect(budget.tryRetry()).toBe(false)
    clock.advance(10_000)
    expect(budget.tryRetry()).toBe(false) // no requests left in the window
    for (let i = 0; i < 2; i++) budget.recordRequest()
    expect(budget.tryRetry()).toBe(true)
    expect(budget.tryRetry()).toBe(false)
  })
})
