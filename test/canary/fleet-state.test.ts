/**
 * The pure parts of a fleet's canary (src/canary/fleet.ts, the machine's fleet methods, the
 * configuration keys): instances' reports sum exactly, the gates judge this instance's counts
 * plus the fleet's, a persisted state restores the analysis where it stood, and the keys
 * `configSource.etcd.fleetKey` / `leaseTtl` get their defaults and refuse what cannot work.
 */
import { describe, expect, it } from 'vitest'
import { CohortWindow } from '../../src/canary/cohort-window.js'
import { sumReports } from '../../src/canary/fleet.js'
import { CanaryMachine } from '../../src/canary/state-machine.js'
import { ConfigError, normalizeConfig } from '../../src/config/index.js'
import { ManualClock } from '../upstream/helpers.js'

const settings = { baseline: 'v1', candidate: 'v2', steps: [10, 50, 100], interval: 1000, gates: { minRequests: 10, maxErrorRate: 0.1, maxP99Ratio: 10 } }

describe('a fleet’s canary counts and state', () => {
  it('the sum of three instances’ reports equals one window that saw every request', () => {
    const one = new CohortWindow()
    const parts = [new CohortWindow(), new CohortWindow(), new CohortWindow()]
    for (let i = 0; i < 500; i++) {
      const status = i % 41 === 0 ? 503 : 200
      const ms = 2 + ((i * 104729) % 900)
      one.record(status, ms)
      parts[i % 3]!.record(status, ms)
    }
    const sum = sumReports(parts.map((p) => ({ candidate: p.counts()! })))!
    const merged = new CohortWindow()
    merged.merge(sum.candidate!)
    expect(merged.figures()).toEqual(one.figures())
    expect(sum.baseline).toBeUndefined()
    expect(sumReports([{}, {}])).toBeUndefined()
    // Shadow comparisons (the divergence gate) add up too.
    expect(sumReports([{ shadow: { compared: 5, diverged: 1 } }, {}, { shadow: { compared: 7, diverged: 0 } }])).toEqual({ shadow: { compared: 12, diverged: 1 } })
  })

  it('decides on this instance’s counts plus the rest of the fleet’s, which alone would wait', () => {
    const clock = new ManualClock()
    const m = new CanaryMachine(settings, clock)
    for (let i = 0; i < 6; i++) {
      m.record('candidate', 200, 10)
      m.record('baseline', 200, 10)
    }
    clock.advance(1000)
    expect(m.tick()).toMatchObject({ action: 'waiting' })
    const other = new CohortWindow()
    for (let i = 0; i < 6; i++) other.record(200, 10)
    m.setRemote({ baseline: other.counts()!, candidate: other.counts()! })
    expect(m.figures().candidate.requests).toBe(12)
    // Replaced, not added: the same report twice counts once.
    m.setRemote({ baseline: other.counts()!, candidate: other.counts()! })
    expect(m.figures().candidate.requests).toBe(12)
    expect(m.localCounts().candidate?.requests).toBe(6)
    expect(m.tick()).toMatchObject({ action: 'step', weight: 50 })
    // A new window starts without the fleet's counts of the previous one.
    expect(m.figures().candidate.requests).toBe(0)
  })

  it('a snapshot restores state, step, step start and history; the counts stay only for the same window', () => {
    const clock = new ManualClock()
    const leader = new CanaryMachine(settings, clock)
    for (let i = 0; i < 10; i++) {
      leader.record('candidate', 200, 10)
      leader.record('baseline', 200, 10)
    }
    clock.advance(1000)
    leader.tick()
    const snap = leader.snapshot()
    expect(snap).toMatchObject({ state: 'progressing', index: 1, weight: 50 })

    const next = new CanaryMachine(settings, clock)
    next.record('candidate', 200, 10)
    next.restore(snap, true)
    expect(next).toMatchObject({ state: 'progressing', step: 2, weight: 50, stepStartedAt: snap.stepStartedAt })
    expect(next.history).toEqual(leader.history)
    expect(next.figures().candidate.requests).toBe(1)
    next.restore(snap, false)
    expect(next.figures().candidate.requests).toBe(0)
    expect(() => next.check('resume')).toThrow('cannot resume a canary that is progressing')
    expect(() => next.check('pause')).not.toThrow()
  })

  it('configSource.etcd.fleetKey and leaseTtl: defaults, and what is refused', () => {
    const base = { server: { port: 0 }, admin: false }
    const etcd = (extra: Record<string, unknown>) => normalizeConfig({ ...base, configSource: { etcd: { endpoints: ['http://127.0.0.1:2379'], key: '/sy/config', ...extra } } })
    expect(etcd({}).configSource!.etcd).toMatchObject({ fleetKey: '/sy/config/fleet', leaseTtl: 5000 })
    expect(etcd({ fleetKey: '/fleets/a/', leaseTtl: '3s' }).configSource!.etcd).toMatchObject({ fleetKey: '/fleets/a', leaseTtl: 3000 })
    const problems = (extra: Record<string, unknown>): string[] => {
      try {
        etcd(extra)
        return []
      } catch (err) {
        return (err as ConfigError).lines()
      }
    }
    expect(problems({ leaseTtl: '1s' }).join('\n')).toContain('configSource.etcd.leaseTtl')
    expect(problems({ leaseTtl: '2500ms' }).join('\n')).toContain('whole seconds')
    expect(problems({ fleetKey: '/sy' }).join('\n')).toContain('configSource.etcd.fleetKey')
    expect(problems({ fleetKey: '/sy/config' }).join('\n')).toContain('configSource.etcd.fleetKey')
  })
})
