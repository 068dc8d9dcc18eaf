/**
 * Worker threads' batches (`server.workers` > 1): counts merged into the deciding thread's
 * window give the same figures as recording every request there, and a machine that is not
 * progressing takes none.
 */
import { describe, expect, it } from 'vitest'
import { CohortWindow } from '../../src/canary/cohort-window.js'
import { CanaryMachine } from '../../src/canary/state-machine.js'
import { ManualClock } from '../upstream/helpers.js'

describe('canary cohort batches', () => {
  it('merging two threads’ counts equals recording every request in one window', () => {
    const one = new CohortWindow()
    const a = new CohortWindow()
    const b = new CohortWindow()
    for (let i = 0; i < 300; i++) {
      const status = i % 37 === 0 ? 502 : 200
      const ms = 3 + ((i * 7919) % 400)
      const failedOver = i % 50 === 5
      one.record(status, ms, failedOver)
      ;(i % 3 === 0 ? a : b).record(status, ms, failedOver)
    }
    const merged = new CohortWindow()
    merged.merge(a.counts()!)
    merged.merge(b.counts()!)
    expect(merged.figures()).toEqual(one.figures())
    expect(new CohortWindow().counts()).toBeUndefined()
  })

  it('a machine merges batches while progressing and ignores them when paused', () => {
    const clock = new ManualClock()
    const m = new CanaryMachine({ baseline: 'v1', candidate: 'v2', steps: [10, 100], interval: 1000, gates: { minRequests: 5, maxErrorRate: 0.1, maxP99Ratio: 10 } }, clock)
    const w = new CohortWindow()
    for (let i = 0; i < 8; i++) w.record(i === 0 ? 500 : 200, 10)
    m.merge('candidate', w.counts()!)
    expect(m.figures().candidate).toMatchObject({ requests: 8, errors: 1 })
    m.pause()
    m.merge('candidate', w.counts()!)
    expect(m.figures().candidate.requests).toBe(8)
    m.resume()
    m.merge('baseline', w.counts()!)
    m.merge('candidate', w.counts()!)
    clock.advance(1000)
    // 1 error in 8 is above 0.1: the merged outcomes alone decide the step.
    expect(m.tick()).toMatchObject({ action: 'rolled-back', gate: 'maxErrorRate' })
  })
})
