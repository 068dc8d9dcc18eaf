/**
 * Passive health of one backend, from the outcomes of real requests.
 *
 *   closed ──(consecutiveFailures, if the pool's ejection cap allows)──▶ open
 *   open ──(openDuration elapsed, read lazily)──▶ half-open
 *   half-open ──(a trial succeeds)──▶ closed
 *   half-open ──(a trial fails)──▶ open
 *
 * Outcomes are tied to the state they were admitted in (an "epoch"): a slow request admitted
 * while closed that fails after the breaker already opened says nothing about the backend now,
 * and must not count as the half-open trial's verdict.
 *
 * Outlier detection beside the consecutive rule (Envoy's failure-percentage): with
 * `failureRate`, a closed breaker also opens when, over a sliding `window`, at least
 * `minRequests` outcomes were counted and a share ≥ `threshold` of them failed, so a backend
 * failing 30% of requests, never five in a row, is still ejected when the threshold says so.
 *
 * Ejection time grows for repeat offenders: the n-th ejection in a row stays open
 * `openDuration × n` (capped at `maxOpenDuration`); n decays by one for each `openDuration`
 * the breaker then spends closed, so a backend that has been healthy for a while starts over.
 */
import type { CircuitBreakerSettings } from '../config/model.js'
import type { CircuitBreaker, CircuitState, Clock } from './types.js'

/** What a breaker asks of, and tells, the pool that owns its backend. */
export interface BreakerHooks {
  /** Asked before opening from closed: may this backend be ejected without exceeding `maxEjectionPercent`? */
  mayOpen(): boolean
  /** The breaker reached its threshold but `mayOpen` said no. */
  onOpenRefused(): void
  onTransition(from: CircuitState, to: CircuitState): void
}

export type BreakerOutcome = 'success' | 'failure' | 'cancel'

/** The ticket of a request admitted as a last resort (see ManagedBreaker.admitLastResort). */
export const LAST_RESORT_TICKET = -2

/**
 * The breaker as the pool uses it: `admit` hands out a ticket naming the state a request was
 * admitted in, `settle` takes it back with the outcome. The CircuitBreaker interface methods
 * remain for callers without tickets.
 */
export interface ManagedBreaker extends CircuitBreaker {
  /** -1 when refused; otherwise a ticket for `settle`. Takes a trial permit in half-open. */
  admit(): number
  settle(ticket: number, outcome: BreakerOutcome): void
  /** Whether `admit` would succeed now; takes nothing. */
  wouldAdmit(): boolean
  /**
   * A ticket for a last-resort request (sent although the breaker refuses, because nothing
   * else could serve): its success is evidence enough to close the breaker; its failure
   * changes nothing (the breaker is already open or half-open).
   */
  admitLastResort(): number
  /** Open or half-open: out of full rotation because of failures (counts against the ejection cap). */
  readonly ejected: boolean
  /**
   * Take the state another worker thread's breaker of the same backend moved to (src/workers/),
   * without reporting it as this breaker's own transition: one verdict per backend per process.
   */
  mirror?(to: CircuitState, openFor?: number): void
}

/** The breaker of a pool without `circuitBreaker` settings: always closed. */
export const alwaysClosed: ManagedBreaker = Object.freeze({
  state: 'closed' as const,
  ejected: false,
  tryAcquire: () => true,
  onSuccess: () => {},
  onFailure: () => {},
  onCancel: () => {},
  admit: () => 0,
  settle: () => {},
  wouldAdmit: () => true,
  admitLastResort: () => LAST_RESORT_TICKET,
})

/** Buckets of the failure-rate window. */
const RATE_BUCKETS = 10

const noHooks: BreakerHooks = { mayOpen: () => true, onOpenRefused: () => {}, onTransition: () => {} }

export class ConsecutiveFailureBreaker implements ManagedBreaker {
  #settings: CircuitBreakerSettings
  readonly #clock: Clock
  readonly #hooks: BreakerHooks
  #state: CircuitState = 'closed'
  #epoch = 0
  #failures = 0
  #openedAt = 0
  /** Half-open trial permits not yet handed out. */
  #permits = 0
  /** Ejections in a row (decayed lazily while closed), and how long the current one lasts. */
  #ejections = 0
  #openFor = 0
  #closedAt = 0
  /** Failure-rate window: outcomes and failures per bucket, and the bucket last written. */
  readonly #rateTotal = new Float64Array(RATE_BUCKETS)
  readonly #rateFailed = new Float64Array(RATE_BUCKETS)
  #rateBucket = -1

  constructor(settings: CircuitBreakerSettings, clock: Clock, hooks: BreakerHooks = noHooks) {
    this.#settings = settings
    this.#clock = clock
    this.#hooks = hooks
    this.#closedAt = clock.now()
  }

  /** Ejections in a row, after decay (0 for a breaker that never opened or has recovered). */
  get ejections(): number {
    if (this.#state === 'closed') return this.#decayed()
    return this.#ejections
  }

  /** How long the current (or last) opening lasts, in ms. */
  get openFor(): number {
    return this.#openFor
  }

  /** New thresholds from a reload; the current state and counts are kept. */
  updateSettings(settings: CircuitBreakerSettings): void {
    this.#settings = settings
  }

  get state(): CircuitState {
    this.#advance()
    return this.#state
  }

  get ejected(): boolean {
    return this.state !== 'closed'
  }

  /** Consecutive failures counted so far in the closed state. */
  get failures(): number {
    return this.#failures
  }

  admit(): number {
    this.#advance()
    if (this.#state === 'closed') return this.#epoch * 2
    if (this.#state === 'half-open' && this.#permits > 0) {
      this.#permits--
      return this.#epoch * 2 + 1
    }
    return -1
  }

  wouldAdmit(): boolean {
    this.#advance()
    return this.#state === 'closed' || (this.#state === 'half-open' && this.#permits > 0)
  }

  admitLastResort(): number {
    return LAST_RESORT_TICKET
  }

  settle(ticket: number, outcome: BreakerOutcome): void {
    if (ticket === LAST_RESORT_TICKET) {
      this.#advance()
      if (outcome === 'success' && this.#state !== 'closed') this.#transition('closed')
      return
    }
    if (ticket < 0) return
    const trial = (ticket & 1) === 1
    if (Math.floor(ticket / 2) !== this.#epoch) return // admitted in an earlier state: stale evidence
    if (trial) {
      if (outcome === 'success') this.#transition('closed')
      else if (outcome === 'failure') this.#transition('open')
      else this.#permits++ // the client went away: the trial told us nothing, let another one try
      return
    }
    if (outcome === 'cancel') return
    const rateTripped = this.#recordRate(outcome === 'failure')
    if (outcome === 'success') this.#failures = 0
    else if (++this.#failures >= this.#settings.consecutiveFailures || rateTripped) {
      if (this.#hooks.mayOpen()) {
        this.#transition('open')
      } else {
        // Staying closed; start counting afresh so a persistently failing backend is
        // reconsidered (and the refusal counted) once per threshold, not on every failure.
        this.#failures = 0
        this.#clearRate()
        this.#hooks.onOpenRefused()
      }
    }
  }

  /** Counts an outcome in the failure-rate window; true when the rule says eject. */
  #recordRate(failed: boolean): boolean {
    const fr = this.#settings.failureRate
    if (fr === undefined) return false
    const bucketMs = Math.max(1, fr.window / RATE_BUCKETS)
    const bucket = Math.floor(this.#clock.now() / bucketMs)
    if (bucket !== this.#rateBucket) {
      const stale = this.#rateBucket < 0 ? RATE_BUCKETS : Math.min(RATE_BUCKETS, bucket - this.#rateBucket)
      for (let k = 1; k <= stale; k++) {
        const slot = (((bucket - stale + k) % RATE_BUCKETS) + RATE_BUCKETS) % RATE_BUCKETS
        this.#rateTotal[slot] = 0
        this.#rateFailed[slot] = 0
      }
      this.#rateBucket = bucket
    }
    const slot = ((bucket % RATE_BUCKETS) + RATE_BUCKETS) % RATE_BUCKETS
    this.#rateTotal[slot]!++
    if (failed) this.#rateFailed[slot]!++
    if (!failed) return false
    let total = 0
    let bad = 0
    for (let i = 0; i < RATE_BUCKETS; i++) {
      total += this.#rateTotal[i]!
      bad += this.#rateFailed[i]!
    }
    return total >= fr.minRequests && bad >= fr.threshold * total
  }

  #clearRate(): void {
    this.#rateTotal.fill(0)
    this.#rateFailed.fill(0)
  }

  /** Ejections in a row after the closed time since the last close has decayed them. */
  #decayed(): number {
    const period = this.#settings.openDuration
    if (this.#ejections === 0 || period <= 0) return this.#ejections
    return Math.max(0, this.#ejections - Math.floor((this.#clock.now() - this.#closedAt) / period))
  }

  tryAcquire(): boolean {
    return this.admit() >= 0
  }

  onSuccess(): void {
    this.settle(this.#currentTicket(), 'success')
  }

  onFailure(): void {
    this.settle(this.#currentTicket(), 'failure')
  }

  onCancel(): void {
    this.settle(this.#currentTicket(), 'cancel')
  }

  #currentTicket(): number {
    this.#advance()
    return this.#epoch * 2 + (this.#state === 'half-open' ? 1 : 0)
  }

  mirror(to: CircuitState, openFor?: number): void {
    if (to === this.#state) return
    this.#state = to
    this.#epoch++
    this.#failures = 0
    this.#clearRate()
    if (to === 'open') {
      this.#ejections = Math.max(1, this.#ejections + 1)
      this.#openFor = openFor ?? this.#settings.openDuration
      this.#openedAt = this.#clock.now()
    }
    if (to === 'closed') this.#closedAt = this.#clock.now()
    if (to === 'half-open') this.#permits = Math.max(1, this.#settings.halfOpenRequests)
  }

  /** Open reads as half-open once openDuration has passed; the transition happens on that read. */
  #advance(): void {
    if (this.#state === 'open' && this.#clock.now() - this.#openedAt >= this.#openFor) {
      this.#transition('half-open')
    }
  }

  #transition(to: CircuitState): void {
    const from = this.#state
    this.#state = to
    this.#epoch++
    this.#failures = 0
    this.#clearRate()
    if (to === 'open') {
      // From closed, the time spent closed first decays earlier ejections; a failed trial
      // (from half-open) is one more ejection in the same row.
      this.#ejections = (from === 'closed' ? this.#decayed() : this.#ejections) + 1
      const cap = Math.max(this.#settings.openDuration, this.#settings.maxOpenDuration ?? this.#settings.openDuration * 10)
      this.#openFor = Math.min(cap, this.#settings.openDuration * this.#ejections)
      this.#openedAt = this.#clock.now()
    }
    if (to === 'closed') this.#closedAt = this.#clock.now()
    if (to === 'half-open') this.#permits = Math.max(1, this.#settings.halfOpenRequests)
    this.#hooks.onTransition(from, to)
  }
}

/** `switchyard_circuit_state` encoding: 0 closed, 1 half-open, 2 open. */
export function circuitStateValue(state: CircuitState): 0 | 1 | 2 {
  return state === 'closed' ? 0 : state === 'half-open' ? 1 : 2
}
