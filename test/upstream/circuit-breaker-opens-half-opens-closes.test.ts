import { describe, expect, it } from 'vitest'
import { ConsecutiveFailureBreaker } from '../../src/upstream/index.js'
import type { CircuitState } from '../../src/upstream/types.js'
import { ManualClock } from './helpers.js'

const settings = { consecutiveFailures: 3, openDuration: 30_000, halfOpenRequests: 1, maxEjectionPercent: 50 }

function breaker(clock: ManualClock, transitions: string[] = []) {
  return new ConsecutiveFailureBreaker(settings, clock, {
    mayOpen: () => true,
    onOpenRefused: () => {},
    onTransition: (from: CircuitState, to: CircuitState) => transitions.push(`${from}->${to}`),
  })
}

function fail(b: ConsecutiveFailureBreaker): void {
  const t = b.admit()
  expect(t).toBeGreaterThanOrEqual(0)
  b.settle(t, 'failure')
}

describe('circuit breaker', () => {
  it('opens after consecutiveFailures, half-opens after openDuration, closes on a trial success', () => {
    const clock = new ManualClock()
    const transitions: string[] = []
    const b = breaker(clock, transitions)
    fail(b)
    fail(b)
    expect(b.state).toBe('closed')
    fail(b)
    expect(b.state).toBe('open')
    expect(b.tryAcquire()).toBe(false)
    expect(b.wouldAdmit()).toBe(false)
    clock.advance(29_999)
    expect(b.state).toBe('open')
    clock.advance(1)
    expect(b.state).toBe('half-open')
    // One trial permit: the second request is refused while the trial is out.
    const trial = b.admit()
    expect(trial).toBeGreaterThanOrEqual(0)
    expect(b.admit()).toBe(-1)
    expect(b.wouldAdmit()).toBe(false)
    b.settle(trial, 'success')
    expect(b.state).toBe('closed')
    expect(b.tryAcquire()).toBe(true)
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->closed'])
  })

  it('reopens when the half-open trial fails, for a longer time (a repeat offender)', () => {
    const clock = new ManualClock()
    const b = breaker(clock)
    for (let i = 0; i < 3; i++) fail(b)
    clock.advance(30_000)
    const trial = b.admit()
    b.settle(trial, 'failure')
    expect(b.state).toBe('open')
    expect(b.ejections).toBe(2)
    expect(b.openFor).toBe(60_000) // openDuration × ejections in a row
    clock.advance(59_000)
    expect(b.state).toBe('open')
    clock.advance(1000)
    expect(b.state).toBe('half-open')
  })

  it('a success resets the consecutive-failure count', () => {
    const clock = new ManualClock()
    const b = breaker(clock)
    fail(b)
    fail(b)
    const t = b.admit()
    b.settle(t, 'success')
    fail(b)
    fail(b)
    expect(b.state).toBe('closed')
  })

  it('a cancelled trial gives its permit back', () => {
    const clock = new ManualClock()
    const b = breaker(clock)
    for (let i = 0; i < 3; i++) fail(b)
    clock.advance(30_000)
    const trial = b.admit()
    expect(b.admit()).toBe(-1)
    b.settle(trial, 'cancel')
    expect(b.state).toBe('half-open')
    expect(b.admit()).toBeGreaterThanOrEqual(0)
  })

  it('ignores outcomes of requests admitted before the last state change', () => {
    const clock = new ManualClock()
    const b = breaker(clock)
    const slow = b.admit() // admitted while closed, answers much later
    for (let i = 0; i < 3; i++) fail(b)
    clock.advance(30_000)
    expect(b.state).toBe('half-open')
    b.settle(slow, 'failure') // not the trial's verdict
    expect(b.state).toBe('half-open')
    const trial = b.admit()
    b.settle(trial, 'success')
    expect(b.state).toBe('closed')
  })

  it('works through the ticketless CircuitBreaker interface too', () => {
    const clock = new ManualClock()
    const b = breaker(clock)
    for (let i = 0; i < 3; i++) {
      expect(b.tryAcquire()).toBe(true)
      b.onFailure()
    }
    expect(b.state).toBe('open')
    clock.advance(30_000)
    expect(b.tryAcquire()).toBe(true)
    b.onSuccess()
    expect(b.state).toBe('closed')
  })
})
