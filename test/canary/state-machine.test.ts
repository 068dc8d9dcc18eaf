import { describe, expect, it } from 'vitest'
import type { CanarySettings } from '../../src/config/model.js'
import { CanaryMachine, CanaryTransitionError, type Cohort } from '../../src/canary/state-machine.js'
import { ManualClock } from '../upstream/helpers.js'

function settings(over: Partial<CanarySettings> = {}, gates: Partial<CanarySettings['gates']> = {}): CanarySettings {
  return {
    baseline: 'v1',
    candidate: 'v2',
    steps: [5, 25, 50, 100],
    interval: 1000,
    ...over,
    gates: { minRequests: 20, maxErrorRate: 0.02, maxP99Ratio: 1.5, ...gates },
  }
}

function feed(m: CanaryMachine, cohort: Cohort, n: number, ms = 10, errors = 0): void {
  for (let i = 0; i < n; i++) m.record(cohort, i < errors ? 503 : 200, ms)
}

describe('canary state machine', () => {
  it('promotes through every step when each passes its gates, candidate at 100 in the end', () => {
    const clock = new ManualClock()
    const m = new CanaryMachine(settings(), clock)
    expect(m.weight).toBe(5)
    const seen: number[] = [m.weight]
    for (let step = 1; step <= 4; step++) {
      if (m.weight < 100) feed(m, 'baseline', 50)
      feed(m, 'candidate', 50)
      expect(m.tick()).toBeUndefined() // the interval has not passed yet
      clock.advance(1000)
      const d = m.tick()!
      expect(d.by).toBe('analysis')
      expect(d.figures?.step).toBe(step)
      if (step < 4) {
        expect(d).toMatchObject({ action: 'step', state: 'progressing', step: step + 1 })
      } else {
        expect(d).toMatchObject({ action: 'promoted', state: 'promoted', weight: 100 })
      }
      seen.push(m.weight)
    }
    expect(seen).toEqual([5, 25, 50, 100, 100])
    expect(m.history.map((h) => h.result)).toEqual(['passed', 'passed', 'passed', 'passed'])
    // Nothing more happens once promoted.
    clock.advance(10_000)
    expect(m.tick()).toBeUndefined()
  })

  it('rolls back on 5 % candidate errors at the first step, with the figures', () => {
    const clock = new ManualClock()
    const m = new CanaryMachine(settings(), clock)
    feed(m, 'baseline', 100)
    feed(m, 'candidate', 100, 10, 5)
    clock.advance(1000)
    const d = m.tick()!
    expect(d).toMatchObject({ action: 'rolled-back', state: 'rolled-back', weight: 0, gate: 'maxErrorRate', step: 1 })
    expect(d.figures!.candidate).toMatchObject({ requests: 100, errors: 5, errorRate: 0.05 })
    expect(d.figures!.baseline).toMatchObject({ requests: 100, errors: 0 })
    expect(d.reason).toContain('0.05')
    expect(m.history).toHaveLength(1)
    expect(m.history[0]).toMatchObject({ result: 'failed', gate: 'maxErrorRate' })
  })

  it('counts gateway errors (502, 503, 504) and upstream 5xx, not 4xx', () => {
    const clock = new ManualClock()
    const m = new CanaryMachine(settings({}, { maxErrorRate: 0.5 }), clock)
    for (const s of [500, 502, 503, 504, 404, 429, 200, 201]) m.record('candidate', s, 1)
    expect(m.figures().candidate).toMatchObject({ requests: 8, errors: 4 })
  })

  it('counts a request its pool could not serve (a fallback pool answered) as an error of its cohort', () => {
    const clock = new ManualClock()
    const m = new CanaryMachine(settings(), clock)
    m.record('candidate', 200, 1, true)
    m.record('candidate', 200, 1)
    m.record('baseline', 200, 1, true)
    expect(m.figures().candidate).toMatchObject({ requests: 2, errors: 1 })
    expect(m.figures().baseline).toMatchObject({ requests: 1, errors: 1 })
  })

  it('rolls back a candidate whose p99 is 3× the baseline', () => {
    const clock = new ManualClock()
    const m = new CanaryMachine(settings(), clock)
    feed(m, 'baseline', 200, 10)
    feed(m, 'candidate', 200, 30)
    clock.advance(1000)
    const d = m.tick()!
    expect(d).toMatchObject({ action: 'rolled-back', gate: 'maxP99Ratio', weight: 0 })
    expect(d.figures!.p99Ratio).toBeCloseTo(3, 1)
    expect(d.figures!.baseline.p99Ms).toBe(10)
    expect(d.figures!.candidate.p99Ms).toBe(30)
  })

  it('does not call loopback jitter a regression: p99s under 5 ms compare as 5 ms', () => {
    const clock = new ManualClock()
    const m = new CanaryMachine(settings(), clock)
    feed(m, 'baseline', 100, 0.4)
    feed(m, 'candidate', 100, 3)
    clock.advance(1000)
    expect(m.tick()).toMatchObject({ action: 'step' })
  })

  it('rolls back on the absolute p99 bound when one is set', () => {
    const clock = new ManualClock()
    const m = new CanaryMachine(settings({}, { maxP99: 100, maxP99Ratio: 100 }), clock)
    feed(m, 'baseline', 100, 150)
    feed(m, 'candidate', 100, 160)
    clock.advance(1000)
    expect(m.tick()).toMatchObject({ action: 'rolled-back', gate: 'maxP99' })
  })

  it('waits with too little candidate traffic: the step extends, reported once, and is decided when the evidence arrives', () => {
    const clock = new ManualClock()
    const m = new CanaryMachine(settings(), clock)
    feed(m, 'baseline', 100)
    feed(m, 'candidate', 5)
    clock.advance(1000)
    const d = m.tick()!
    expect(d).toMatchObject({ action: 'waiting', state: 'progressing', step: 1, weight: 5 })
    expect(d.reason).toContain('5 of 20')
    clock.advance(5000)
    expect(m.tick()).toBeUndefined()
    expect(m.weight).toBe(5)
    feed(m, 'candidate', 15)
    expect(m.tick()).toMatchObject({ action: 'step', step: 2, weight: 25 })
  })

  it('waits for the baseline too before passing, but fails on candidate evidence alone', () => {
    const clock = new ManualClock()
    const m = new CanaryMachine(settings(), clock)
    feed(m, 'candidate', 50)
    clock.advance(1000)
    expect(m.tick()).toMatchObject({ action: 'waiting' })
    expect(m.tick()).toBeUndefined()
    const bad = new CanaryMachine(settings(), clock)
    feed(bad, 'candidate', 50, 10, 10)
    clock.advance(1000)
    expect(bad.tick()).toMatchObject({ action: 'rolled-back', gate: 'maxErrorRate' })
  })

  it('measures both cohorts over the same window: each step starts from zero', () => {
    const clock = new ManualClock()
    const m = new CanaryMachine(settings(), clock)
    feed(m, 'baseline', 40)
    feed(m, 'candidate', 40)
    clock.advance(1000)
    expect(m.tick()).toMatchObject({ action: 'step' })
    expect(m.figures()).toMatchObject({ step: 2, weight: 25, baseline: { requests: 0 }, candidate: { requests: 0 } })
  })

  it('pauses (nothing counted, nothing decided), resumes with a fresh window', () => {
    const clock = new ManualClock()
    const m = new CanaryMachine(settings(), clock)
    feed(m, 'baseline', 50)
    feed(m, 'candidate', 50)
    expect(m.pause()).toMatchObject({ action: 'paused', state: 'paused', by: 'operator', weight: 5 })
    feed(m, 'candidate', 50, 10, 50)
    clock.advance(5000)
    expect(m.tick()).toBeUndefined()
    expect(m.resume()).toMatchObject({ action: 'resumed', state: 'progressing', weight: 5 })
    expect(m.figures().candidate.requests).toBe(0)
    clock.advance(999)
    feed(m, 'baseline', 50)
    feed(m, 'candidate', 50)
    expect(m.tick()).toBeUndefined()
    clock.advance(1)
    expect(m.tick()).toMatchObject({ action: 'step', weight: 25 })
  })

  it('promotes and rolls back by hand, and refuses transitions the state does not allow', () => {
    const clock = new ManualClock()
    const m = new CanaryMachine(settings(), clock)
    expect(() => m.resume()).toThrow(CanaryTransitionError)
    expect(m.promote()).toMatchObject({ action: 'promoted', state: 'promoted', weight: 100, by: 'operator' })
    expect(() => m.promote()).toThrow('cannot promote a canary that is promoted')
    expect(() => m.pause()).toThrow(CanaryTransitionError)
    expect(m.rollback()).toMatchObject({ action: 'rolled-back', state: 'rolled-back', weight: 0, by: 'operator' })
    expect(() => m.rollback()).toThrow(CanaryTransitionError)
    // A rolled-back candidate can still be promoted by an operator who knows better.
    expect(m.promote()).toMatchObject({ state: 'promoted', weight: 100 })
    const p = new CanaryMachine(settings(), clock)
    p.pause()
    expect(p.rollback()).toMatchObject({ state: 'rolled-back', weight: 0 })
  })
})
