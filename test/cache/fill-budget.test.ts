import { describe, expect, it } from 'vitest'
import { Coalescer, type Timers } from '../../src/cache/coalescer.js'
import { FillBudget, fillLimits } from '../../src/cache/fill-budget.js'

const MB = 1024 * 1024
const noTimers: Timers = { setTimeout: () => 0, clearTimeout: () => undefined }

describe('the in-flight fill bound', () => {
  it('derives its limits from maxSize and maxEntrySize', () => {
    // Defaults: 64 MiB store, 1 MiB entries → 8 MiB of fills, 1024 fills.
    expect(fillLimits(64 * MB, MB)).toEqual({ maxBytes: 8 * MB, maxFills: 1024, maxWaiters: 4096 })
    // At least one largest entry can always be filled...
    expect(fillLimits(4 * MB, MB).maxBytes).toBe(MB)
    // ...but never more than the store holds; and at least 8 fills.
    expect(fillLimits(64 * 1024, MB)).toEqual({ maxBytes: 64 * 1024, maxFills: 8, maxWaiters: 32 })
  })

  it('refuses a fill past the count bound and takes one again once a fill ends', () => {
    const b = new FillBudget({ maxBytes: 1000, maxFills: 2, maxWaiters: 8 })
    const f1 = b.start()!
    const f2 = b.start()!
    expect(b.start()).toBeUndefined()
    f1.end()
    f1.end() // idempotent
    expect(b.stats()).toMatchObject({ fills: 1 })
    expect(b.start()).toBeDefined()
    f2.end()
  })

  it('refuses bytes past the byte bound, counting them nowhere, and frees a fill’s bytes when it ends', () => {
    const b = new FillBudget({ maxBytes: 100, maxFills: 8, maxWaiters: 8 })
    const a = b.start()!
    const c = b.start()!
    expect(a.charge(60)).toBe(true)
    expect(c.charge(30)).toBe(true)
    expect(c.charge(20)).toBe(false)
    expect(b.stats()).toMatchObject({ bytes: 90, peakBytes: 90 })
    a.end()
    expect(c.charge(20)).toBe(true)
    c.end()
    expect(b.stats()).toMatchObject({ fills: 0, bytes: 0, peakBytes: 90, peakFills: 2 })
  })

  it('reserves a declared Content-Length up front and refuses a fill whose declared body cannot fit', () => {
    const b = new FillBudget({ maxBytes: 100, maxFills: 8, maxWaiters: 8 })
    const a = b.start(70)!
    expect(b.stats().bytes).toBe(70)
    expect(b.start(40)).toBeUndefined()
    // The reserved bytes are not charged twice.
    expect(a.charge(70)).toBe(true)
    expect(b.stats().bytes).toBe(70)
    a.end()
    expect(b.stats().bytes).toBe(0)
  })
})

describe('the coalescer is bounded', () => {
  it('answers undefined past maxFlights distinct keys, and takes a new key once a flight settles', () => {
    const c = new Coalescer<string>(1000, noTimers, { maxFlights: 2, maxWaiters: 10 })
    const a = c.join('a')
    c.join('b')
    expect(c.join('c')).toBeUndefined()
    // Following an existing flight is still possible.
    expect(c.join('a')?.leader).toBe(false)
    if (!a?.leader) throw new Error('expected a leader')
    a.flight.settle('v')
    expect(c.join('c')?.leader).toBe(true)
    expect(c.size).toBe(2)
  })

  it('answers undefined past maxWaiters followers in all, and counts them down when flights end', async () => {
    const c = new Coalescer<string>(1000, noTimers, { maxFlights: 10, maxWaiters: 2 })
    const a = c.join('a')
    const f1 = c.join('a')
    const f2 = c.join('a')
    expect(c.join('a')).toBeUndefined()
    expect(c.waiting).toBe(2)
    if (!a?.leader || f1?.leader !== false || f2?.leader !== false) throw new Error('unexpected roles')
    a.flight.settle('v')
    expect(await f1.shared).toBe('v')
    expect(await f2.shared).toBe('v')
    expect(c.waiting).toBe(0)
    expect(c.join('a')?.leader).toBe(true)
  })
})
