/**
 * The analysis of one canary route: a pure state machine over an injected clock, fed each
 * request's cohort, status and latency. Nothing here touches the network, timers or the route;
 * the controller (controller.ts) ticks it, applies its weight and publishes its decisions.
 *
 *   progressing ──(a step's gates pass)──▶ next step … ──(the last passes)──▶ promoted
 *        │  ▲                                                                (candidate 100)
 *  pause │  │ resume                    (the first gate that fails)──▶ rolled-back (candidate 0)
 *        ▼  │
 *      paused            promote / rollback by hand from any state they change
 *
 * Both cohorts are measured over the same window: the current step, from its start (or from a
 * resume) to its decision. A step is decided once its interval has passed and there is enough
 * evidence: a failing gate needs only the candidate's `minRequests`; passing also needs the
 * baseline's, for the ratio (unless the baseline gets no traffic at that step). Until then the
 * step extends: too little traffic never passes a gate.
 */
import type { CanarySettings } from '../config/model.js'
import { CohortWindow, LATENCY_FLOOR_MS, type CohortCounts, type CohortFigures } from './cohort-window.js'

export type CanaryState = 'progressing' | 'paused' | 'promoted' | 'rolled-back'
export type Cohort = 'baseline' | 'candidate'
export type CanaryGate = 'maxErrorRate' | 'maxP99' | 'maxP99Ratio' | 'maxDivergence'
export type CanaryAction = 'started' | 'step' | 'waiting' | 'promoted' | 'rolled-back' | 'paused' | 'resumed'

/** What a step looked like when it was decided (or when it had to wait). */
export interface StepFigures {
  /** 1-based step number. */
  readonly step: number
  /** Candidate weight during the step. */
  readonly weight: number
  readonly baseline: CohortFigures
  readonly candidate: CohortFigures
  /** Candidate p99 / baseline p99, each at least LATENCY_FLOOR_MS; null without both. */
  readonly p99Ratio: number | null
  /** With `gates.maxDivergence`: the candidate's shadow answers compared with the baseline's. */
  readonly divergence?: { readonly compared: number; readonly diverged: number; readonly rate: number }
}

export interface CanaryDecision {
  readonly action: CanaryAction
  /** The state after the decision. */
  readonly state: CanaryState
  /** 1-based step after the decision. */
  readonly step: number
  /** Candidate weight after the decision (the baseline gets 100 - weight). */
  readonly weight: number
  readonly by: 'analysis' | 'operator'
  /** The gate that failed (rollback by analysis). */
  readonly gate?: CanaryGate
  /** One line for people: why. */
  readonly reason?: string
  /** The numbers the decision was made on (analysis decisions). */
  readonly figures?: StepFigures
}

/** A decided step, for the API and the dashboard. */
export interface StepRecord extends StepFigures {
  readonly result: 'passed' | 'failed'
  readonly gate?: CanaryGate
  /** Clock time of the decision. */
  readonly at: number
}

export interface Clock {
  now(): number
}

/**
 * Everything the analysis holds but its counts: what a fleet's leader persists in etcd so
 * another instance can take over the rollout where it stands (src/canary/fleet.ts).
 */
export interface MachineSnapshot {
  readonly state: CanaryState
  /** 0-based index into settings.steps. */
  readonly index: number
  readonly weight: number
  /** Clock time. */
  readonly stepStartedAt: number
  readonly waitingReported: boolean
  readonly history: readonly StepRecord[]
}

/** Shadow comparisons in a window (`mirror` to the candidate with `compare`). */
export interface ShadowCounts {
  readonly compared: number
  readonly diverged: number
}

/** A window's counts for both cohorts (either absent without requests), and its shadow comparisons. */
export interface CohortPair {
  readonly baseline?: CohortCounts
  readonly candidate?: CohortCounts
  readonly shadow?: ShadowCounts
}

/** The operator asked for a change the state does not allow (e.g. resume while progressing). */
export class CanaryTransitionError extends Error {
  readonly state: CanaryState
  constructor(action: string, state: CanaryState) {
    super(`cannot ${action} a canary that is ${state}`)
    this.state = state
  }
}

export class CanaryMachine {
  readonly settings: CanarySettings
  readonly #clock: Clock
  readonly #baseline = new CohortWindow()
  readonly #candidate = new CohortWindow()
  readonly #history: StepRecord[] = []
  #state: CanaryState = 'progressing'
  /** 0-based index into settings.steps. */
  #index = 0
  #weight: number
  #stepStartedAt: number
  #waitingReported = false
  /** Counted elsewhere in the fleet for the same window (other instances), added to this one's. */
  #remote: CohortPair | undefined
  #compared = 0
  #diverged = 0

  constructor(settings: CanarySettings, clock: Clock) {
    this.settings = settings
    this.#clock = clock
    this.#weight = settings.steps[0] ?? 100
    this.#stepStartedAt = clock.now()
  }

  get state(): CanaryState {
    return this.#state
  }

  /** 1-based. */
  get step(): number {
    return this.#index + 1
  }

  /** The candidate's weight now (percent); the baseline's is 100 - weight. */
  get weight(): number {
    return this.#weight
  }

  get stepStartedAt(): number {
    return this.#stepStartedAt
  }

  /** Decided steps, oldest first. */
  get history(): readonly StepRecord[] {
    return this.#history
  }

  /** The decision that starts the analysis (for events and webhooks). */
  started(): CanaryDecision {
    return this.#decision('started', 'analysis')
  }

  /**
   * One finished request of the route. `failedOver`: the cohort's pool could not serve it and a
   * fallback pool did (an error of the cohort, whatever the status). Counted only while progressing.
   */
  record(cohort: Cohort, status: number, ms: number, failedOver = false): void {
    if (this.#state !== 'progressing') return
    ;(cohort === 'candidate' ? this.#candidate : this.#baseline).record(status, ms, failedOver)
  }

  /** One shadow answer of the candidate compared with the baseline's. Counted only while progressing. */
  recordComparison(diverged: boolean): void {
    if (this.#state !== 'progressing') return
    this.#compared++
    if (diverged) this.#diverged++
  }

  /** Comparisons counted elsewhere (a worker thread of this process). Counted only while progressing. */
  mergeShadow(c: ShadowCounts): void {
    if (this.#state !== 'progressing') return
    this.#compared += c.compared
    this.#diverged += c.diverged
  }

  /**
   * A batch of finished requests counted elsewhere (a worker thread of this process), merged as
   * if each had been recorded here. Counted only while progressing.
   */
  merge(cohort: Cohort, counts: CohortCounts): void {
    if (this.#state !== 'progressing') return
    ;(cohort === 'candidate' ? this.#candidate : this.#baseline).merge(counts)
  }

  /**
   * What the rest of the fleet counted in the current window (the sum of the other instances'
   * reports): the figures and the gates look at this window's counts plus these. Replaces the
   * previous value; undefined clears it.
   */
  setRemote(remote: CohortPair | undefined): void {
    this.#remote = remote !== undefined && (remote.baseline !== undefined || remote.candidate !== undefined || remote.shadow !== undefined) ? remote : undefined
  }

  /** What this instance counted in the current window (for its fleet report). */
  localCounts(): CohortPair {
    const baseline = this.#baseline.counts()
    const candidate = this.#candidate.counts()
    const shadow = this.#compared > 0 ? { compared: this.#compared, diverged: this.#diverged } : undefined
    return { ...(baseline ? { baseline } : {}), ...(candidate ? { candidate } : {}), ...(shadow ? { shadow } : {}) }
  }

  snapshot(): MachineSnapshot {
    return { state: this.#state, index: this.#index, weight: this.#weight, stepStartedAt: this.#stepStartedAt, waitingReported: this.#waitingReported, history: [...this.#history] }
  }

  /**
   * Take the state the fleet's leader decided (or persisted). `sameWindow`: the snapshot's step
   * window is the one this machine is counting (keep its counts); otherwise the counts restart.
   */
  restore(s: MachineSnapshot, sameWindow: boolean): void {
    const steps = this.settings.steps
    this.#state = s.state
    this.#index = Math.max(0, Math.min(steps.length - 1, Math.trunc(s.index)))
    this.#weight = Math.max(0, Math.min(100, s.weight))
    this.#stepStartedAt = s.stepStartedAt
    this.#waitingReported = s.waitingReported
    this.#history.length = 0
    this.#history.push(...s.history)
    if (!sameWindow) {
      this.#baseline.reset()
      this.#candidate.reset()
      this.#remote = undefined
      this.#compared = 0
      this.#diverged = 0
    }
  }

  /** The cohort's window: this instance's counts, plus the fleet's when it has any. */
  #window(cohort: Cohort): CohortWindow {
    const local = cohort === 'candidate' ? this.#candidate : this.#baseline
    const remote = this.#remote?.[cohort]
    if (remote === undefined) return local
    const w = new CohortWindow()
    const own = local.counts()
    if (own !== undefined) w.merge(own)
    w.merge(remote)
    return w
  }

  /** The current window's figures. */
  figures(): StepFigures {
    const b = this.#window('baseline')
    const c = this.#window('candidate')
    const baseline = b.figures()
    const candidate = c.figures()
    const bp = b.p99()
    const cp = c.p99()
    const p99Ratio = bp === null || cp === null ? null : Math.round((Math.max(cp, LATENCY_FLOOR_MS) / Math.max(bp, LATENCY_FLOOR_MS)) * 1000) / 1000
    if (this.settings.gates.maxDivergence === undefined) return { step: this.step, weight: this.#weight, baseline, candidate, p99Ratio }
    const compared = this.#compared + (this.#remote?.shadow?.compared ?? 0)
    const diverged = this.#diverged + (this.#remote?.shadow?.diverged ?? 0)
    const divergence = { compared, diverged, rate: compared === 0 ? 0 : round(diverged / compared) }
    return { step: this.step, weight: this.#weight, baseline, candidate, p99Ratio, divergence }
  }

  /** Decide the current step if it is due. Call it often (the controller ticks it). */
  tick(): CanaryDecision | undefined {
    if (this.#state !== 'progressing') return undefined
    const now = this.#clock.now()
    if (now - this.#stepStartedAt < this.settings.interval) return undefined
    const g = this.settings.gates
    const f = this.figures()
    const c = f.candidate
    if (c.requests < g.minRequests) return this.#wait(f, `candidate has ${c.requests} of ${g.minRequests} requests`)
    if (c.errorRate > g.maxErrorRate) {
      return this.#fail(f, 'maxErrorRate', `candidate error rate ${round(c.errorRate)} (${c.errors}/${c.requests}) above ${g.maxErrorRate}`)
    }
    if (g.maxP99 !== undefined && c.p99Ms !== null && c.p99Ms > g.maxP99) {
      return this.#fail(f, 'maxP99', `candidate p99 ${c.p99Ms} ms above ${g.maxP99} ms`)
    }
    // Shadow answers compared with the baseline's: decided on enough comparisons too. Only the
    // baseline's requests are mirrored to the candidate, so at a step of 100 there are none.
    const dv = f.divergence
    if (g.maxDivergence !== undefined && dv !== undefined && this.#weight < 100) {
      if (dv.compared >= g.minRequests && dv.rate > g.maxDivergence) {
        return this.#fail(f, 'maxDivergence', `candidate's shadow answers differ in ${dv.rate} (${dv.diverged}/${dv.compared}) above ${g.maxDivergence}`)
      }
      if (dv.compared < g.minRequests) return this.#wait(f, `${dv.compared} of ${g.minRequests} shadow answers compared`)
    }
    // With no baseline traffic (a step at 100) there is nothing to compare with: the ratio gate
    // does not apply; the absolute gates above still do.
    if (this.#weight < 100) {
      if (f.baseline.requests < g.minRequests) return this.#wait(f, `baseline has ${f.baseline.requests} of ${g.minRequests} requests`)
      if (f.p99Ratio !== null && f.p99Ratio > g.maxP99Ratio) {
        return this.#fail(f, 'maxP99Ratio', `candidate p99 ${c.p99Ms} ms is ${f.p99Ratio}× the baseline's ${f.baseline.p99Ms} ms, above ${g.maxP99Ratio}×`)
      }
    }
    this.#history.push({ ...f, result: 'passed', at: now })
    if (this.#index + 1 >= this.settings.steps.length) {
      this.#state = 'promoted'
      this.#weight = 100
      return this.#decision('promoted', 'analysis', { figures: f, reason: `step ${f.step} of ${this.settings.steps.length} passed` })
    }
    this.#index++
    this.#weight = this.settings.steps[this.#index]!
    this.#restartWindow(now)
    return this.#decision('step', 'analysis', { figures: f, reason: `step ${f.step} passed` })
  }

  /** Throws CanaryTransitionError when the operator action does not apply to the state now (changes nothing). */
  check(action: 'pause' | 'resume' | 'promote' | 'rollback'): void {
    const allowed =
      action === 'pause' ? this.#state === 'progressing' : action === 'resume' ? this.#state === 'paused' : action === 'promote' ? this.#state !== 'promoted' : this.#state !== 'rolled-back'
    if (!allowed) throw new CanaryTransitionError(action === 'rollback' ? 'roll back' : action, this.#state)
  }

  pause(): CanaryDecision {
    if (this.#state !== 'progressing') throw new CanaryTransitionError('pause', this.#state)
    this.#state = 'paused'
    return this.#decision('paused', 'operator')
  }

  /** Back to progressing; the current step starts a fresh window (what ran while paused is not evidence). */
  resume(): CanaryDecision {
    if (this.#state !== 'paused') throw new CanaryTransitionError('resume', this.#state)
    this.#state = 'progressing'
    this.#restartWindow(this.#clock.now())
    return this.#decision('resumed', 'operator')
  }

  promote(): CanaryDecision {
    if (this.#state === 'promoted') throw new CanaryTransitionError('promote', this.#state)
    this.#state = 'promoted'
    this.#weight = 100
    return this.#decision('promoted', 'operator', { reason: 'promoted by hand' })
  }

  rollback(): CanaryDecision {
    if (this.#state === 'rolled-back') throw new CanaryTransitionError('roll back', this.#state)
    this.#state = 'rolled-back'
    this.#weight = 0
    return this.#decision('rolled-back', 'operator', { reason: 'rolled back by hand' })
  }

  #wait(f: StepFigures, reason: string): CanaryDecision | undefined {
    // Reported once per step; the step keeps collecting and is decided as soon as it can be.
    if (this.#waitingReported) return undefined
    this.#waitingReported = true
    return this.#decision('waiting', 'analysis', { figures: f, reason: `too little traffic to decide: ${reason}; the step is extended` })
  }

  #fail(f: StepFigures, gate: CanaryGate, reason: string): CanaryDecision {
    this.#history.push({ ...f, result: 'failed', gate, at: this.#clock.now() })
    this.#state = 'rolled-back'
    this.#weight = 0
    return this.#decision('rolled-back', 'analysis', { figures: f, gate, reason })
  }

  #restartWindow(now: number): void {
    this.#stepStartedAt = now
    this.#waitingReported = false
    this.#baseline.reset()
    this.#candidate.reset()
    this.#remote = undefined
    this.#compared = 0
    this.#diverged = 0
  }

  #decision(action: CanaryAction, by: CanaryDecision['by'], extra: Partial<CanaryDecision> = {}): CanaryDecision {
    return { action, state: this.#state, step: this.step, weight: this.#weight, by, ...extra }
  }
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000
}
