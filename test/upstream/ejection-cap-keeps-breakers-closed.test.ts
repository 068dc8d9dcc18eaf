import { afterEach, describe, expect, it } from 'vitest'
import { createPoolRegistry, type UpstreamPoolRegistry } from '../../src/upstream/index.js'
import type { UpstreamEvent } from '../../src/upstream/types.js'
import { ManualClock, poolSettings } from './helpers.js'

let registry: UpstreamPoolRegistry | undefined
afterEach(async () => {
  await registry?.close()
  registry = undefined
})

/** Backends are never contacted here: only leases and breaker outcomes are exercised. */
function setup(maxEjectionPercent: number, count: number) {
  const clock = new ManualClock()
  const events: UpstreamEvent[] = []
  registry = createPoolRegistry(
    [
      poolSettings({
        name: 'api',
        backends: Array.from({ length: count }, (_, i) => ({ url: `http://127.0.0.1:${40000 + i}`, weight: 1 })),
        circuitBreaker: { consecutiveFailures: 2, openDuration: 10_000, halfOpenRequests: 1, maxEjectionPercent },
      }),
    ],
    { clock, onEvent: (e) => events.push(e) },
  )
  const pool = registry.get('api')!
  const failTwice = (i: number): void => {
    for (let k = 0; k < 2; k++) pool.acquire(pool.backends[i]!)!.end('failure', 1, 'connect-error')
  }
  return { clock, events, pool, failTwice }
}

describe('maxEjectionPercent', () => {
  it('lets breakers open up to the cap, then keeps the next one closed and counts the refusal', () => {
    const { events, pool, failTwice } = setup(50, 4)
    failTwice(0)
    failTwice(1)
    expect(pool.backends.map((b) => b.breaker.state)).toEqual(['open', 'open', 'closed', 'closed'])
    failTwice(2)
    expect(pool.backends[2]!.breaker.state).toBe('closed')
    expect(pool.backends[2]!.isAvailable()).toBe(true)
    expect(pool.ejectionsRefused).toBe(1)
    expect(events.filter((e) => e.type === 'ejection')).toHaveLength(2)
    expect(events.filter((e) => e.type === 'ejection-refused')).toEqual([
      { type: 'ejection-refused', pool: 'api', backend: 'http://127.0.0.1:40002', ejected: 2, total: 4 },
    ])
  })

  it('counts half-open breakers as ejected, and frees a slot once one closes', () => {
    const { clock, pool, failTwice } = setup(50, 4)
    failTwice(0)
    failTwice(1)
    clock.advance(10_000)
    expect(pool.backends[0]!.breaker.state).toBe('half-open')
    failTwice(2)
    expect(pool.backends[2]!.breaker.state).toBe('closed')
    pool.acquire(pool.backends[0]!)!.end('success', 1)
    expect(pool.backends[0]!.breaker.state).toBe('closed')
    failTwice(2)
    expect(pool.backends[2]!.breaker.state).toBe('open')
  })

  it('always allows ejecting one backend, so a single-backend pool can fail over', () => {
    const { pool, failTwice } = setup(10, 1)
    failTwice(0)
    expect(pool.backends[0]!.breaker.state).toBe('open')
    expect(pool.hasAvailable()).toBe(false)
    expect(pool.acquire(pool.backends[0]!)).toBeNull()
  })

  it('never ejects with a cap of 0', () => {
    const { pool, failTwice } = setup(0, 3)
    failTwice(0)
    expect(pool.backends[0]!.breaker.state).toBe('closed')
  })
})
