/**
 * Retries as a share of the requests in flight now (Envoy's retry budget, as Linkerd and
 * Finagle budget them): a retry may start only while the retries in flight stay within
 * `ratio` of the pool's active requests, with a floor of `minConcurrent` so a quiet pool can
 * still retry. Counting what is active *now* rather than what happened over a window means no
 * credit is carried over from a healthy period: when every backend fails at once, retries are
 * capped at once, instead of spending ten seconds of banked allowance on a failing pool.
 *
 * The proxy calls `begin` when a request first tries the pool, `tryRetry` before each retry,
 * and `end(retries)` when the request is done with the pool (its retries end with it).
 */
import type { Clock } from './types.js'

export interface RetryBudgetOptions {
  /** Kept for callers that passed one; the budget no longer depends on time. */
  readonly clock?: Clock
  /** Retries in flight always allowed, whatever the ratio (default 10: Envoy's min_retry_concurrency is 3, which turns one killed backend under modest load into 502s; Linkerd's floor is 10/s). */
  readonly minConcurrent?: number
}

export class RetryBudget {
  ratio: number
  readonly #floor: number
  #active = 0
  #retries = 0

  constructor(ratio: number, o: RetryBudgetOptions = {}) {
    this.ratio = ratio
    this.#floor = o.minConcurrent ?? 10
  }

  /** Requests in flight on the pool now. */
  get active(): number {
    return this.#active
  }

  /** Retries in flight on the pool now. */
  get activeRetries(): number {
    return this.#retries
  }

  /** A request started on the pool. */
  begin(): void {
    this.#active++
  }

  /** Alias of `begin` (the Pool interface's name). */
  recordRequest(): void {
    this.begin()
  }

  /** Whether a retry fits in the budget now; counts it (in flight) when it does. */
  tryRetry(): boolean {
    if (this.#retries >= Math.max(this.#floor, this.ratio * this.#active)) return false
    this.#retries++
    return true
  }

  /** A request that `begin` counted is done. */
  end(): void {
    if (this.#active > 0) this.#active--
  }

  /** `n` retries granted by `tryRetry` are done. */
  releaseRetries(n: number): void {
    this.#retries = Math.max(0, this.#retries - n)
  }
}
