import { describe, expect, it } from 'vitest'
import { RetryBudget } from '../../src/upstream/index.js'

describe('retry budget (a share of the requests in flight now)', () => {
  it('allows retries in flight up to the ratio of active requests', () => {
    const budget = new RetryBudget(0.2, { minConcurrent: 0 })
    for (let i = 0; i < 100; i++) budget.begin()
    let allowed = 0
    for (let i = 0; i < 50; i++) if (budget.tryRetry()) allowed++
    expect(allowed).toBe(20)
    expect(budget.activeRetries).toBe(20)
  })

  it('always allows a small floor of concurrent retries on a quiet pool', () => {
    const budget = new RetryBudget(0.2)
    budget.begin()
    let allowed = 0
    for (let i = 0; i < 100; i++) if (budget.tryRetry()) allowed++
    expect(allowed).toBe(10) // the floor (minConcurrent)
  })

  it('carries no credit over from a healthy period: finished requests count for nothing', () => {
    const budget = new RetryBudget(0.5, { minConcurrent: 0 })
    // A healthy period: many requests, all done, no retries.
    for (let i = 0; i < 1000; i++) budget.begin()
    for (let i = 0; i < 1000; i++) budget.end()
    expect(budget.active).toBe(0)
    // Now everything fails at once: 10 requests in flight allow 5 retries, not 500.
    for (let i = 0; i < 10; i++) budget.begin()
    let allowed = 0
    for (let i = 0; i < 100; i++) if (budget.tryRetry()) allowed++
    expect(allowed).toBe(5)
  })

  it('a retry that ends frees its place for another', () => {
    const budget = new RetryBudget(0.5, { minConcurrent: 0 })
    for (let i = 0; i < 2; i++) budget.begin()
    expect(budget.tryRetry()).toBe(true)
    expect(budget.tryRetry()).toBe(false)
    budget.releaseRetries(1)
    expect(budget.tryRetry()).toBe(true)
    budget.releaseRetries(5) // never below zero
    expect(budget.activeRetries).toBe(0)
    budget.end()
    budget.end()
    budget.end()
    expect(budget.active).toBe(0)
  })
})
