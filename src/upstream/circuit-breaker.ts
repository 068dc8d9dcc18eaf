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

  constructor(settings: CircuitBreakerSettings, clock: Clock, hooks: BreakerHooks = noHooks) {
    this.#settings = settings
    this.#clock = clock
    this.#hooks = hooks
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
    if (outcome === 'success') this.#failures = 0
    else if (outcome === 'failure' && ++this.#failures >= this.#settings.consecutiveFailures) {
      if (this.#hooks.mayOpen()) {
        this.#transition('open')
      } else {
        // Staying closed; start counting afresh so a persistently failing backend is
        // reconsidered (and the refusal counted) once per threshold, not on every failure.
        this.#failures = 0
        this.#hooks.onOpenRefused()
      }
    }
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

  /** Open reads as half-open once openDuration has passed; the transition happens on that read. */
  #advance(): void {
    if (this.#state === 'open' && this.#clock.now() - this.#openedAt >= this.#settings.openDuration) {
      this.#transition('half-open')
    }
  }

  #transition(to: CircuitState): void {
    const from = this.#state
    this.#state = to
    this.#epoch++
    this.#failures = 0
    if (to === 'open') this.#openedAt = this.#clock.now()
    if (to === 'half-open') this.#permits = Math.max(1, this.#settings.halfOpenRequests)
    this.#hooks.onTransition(from, to)
  }
}

/** `switchyard_circuit_state` encoding: 0 closed, 1 half-open, 2 open. */
export function circuitStateValue(state: CircuitState): 0 | 1 | 2 {
  return state === 'closed' ? 0 : state === 'half-open' ? 1 : 2
}
