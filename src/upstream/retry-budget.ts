/**
 * Retries as a share of requests over a sliding window (as Linkerd and Finagle budget them):
 * while a pool is healthy retries are rare and all allowed; when it fails wholesale, retries
 * are capped at `ratio` of the traffic instead of multiplying it, so a struggling pool is not
 * hammered. A small floor (`minPerSecond`) keeps retries possible on a quiet pool, where one
 * failure would otherwise exceed any ratio.
 */
import type { Clock } from './types.js'
import { systemClock } from './clock.js'

export interface RetryBudgetOptions {
  readonly clock?: Clock
  /** Sliding window in ms (default 10s). */
  readonly windowMs?: number
  /** Retries always allowed per second of window, whatever the ratio (default 3). */
  readonly minPerSecond?: number
}

const BUCKETS = 10

export class RetryBudget {
  ratio: number
  readonly #clock: Clock
  readonly #bucketMs: number
  readonly #floor: number
  readonly #requests = new Float64Array(BUCKETS)
  readonly #retries = new Float64Array(BUCKETS)
  #bucket = -1

  constructor(ratio: number, o: RetryBudgetOptions = {}) {
    this.ratio = ratio
    this.#clock = o.clock ?? systemClock
    const windowMs = o.windowMs ?? 10_000
    this.#bucketMs = windowMs / BUCKETS
    this.#floor = (o.minPerSecond ?? 3) * (windowMs / 1000)
  }

  recordRequest(): void {
    this.#requests[this.#rotate()]!++
  }

  /** Whether a retry fits in the budget now; counts it when it does. */
  tryRetry(): boolean {
    const slot = this.#rotate()
    let requests = 0
    let retries = 0
    for (let i = 0; i < BUCKETS; i++) {
      requests += this.#requests[i]!
      retries += this.#retries[i]!
    }
    if (retries >= Math.max(this.#floor, this.ratio * requests)) return false
    this.#retries[slot]!++
    return true
  }

  /** Advances the window to now, clearing buckets that fell out of it; returns the current slot. */
  #rotate(): number {
    const bucket = Math.floor(this.#clock.now() / this.#bucketMs)
    if (bucket !== this.#bucket) {
      const stale = this.#bucket < 0 ? BUCKETS : Math.min(BUCKETS, bucket - this.#bucket)
      for (let k = 1; k <= stale; k++) {
        const slot = (((bucket - stale + k) % BUCKETS) + BUCKETS) % BUCKETS
        this.#requests[slot] = 0
        this.#retries[slot] = 0
      }
      this.#bucket = bucket
    }
    return ((bucket % BUCKETS) + BUCKETS) % BUCKETS
  }
}
