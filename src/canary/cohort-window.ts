/**
 * One cohort's numbers over one canary step: requests, 5xx answers and a fixed-bucket latency
 * histogram for the p99. Recording a request costs a few integer increments and one logarithm,
 * and allocates nothing, whatever the traffic: the gateway records every request of a canary
 * route here.
 *
 * Buckets: [0, 5 ms], then bounds growing by 20 % up to about 60 s, then an overflow bucket. A
 * p99 is reported as the upper bound of the bucket that holds it (at most 20 % high), capped by
 * the slowest request seen; both cohorts are quantised alike, so their ratio is fair.
 */

/** Upper bound of the first bucket; everything faster counts as this fast in the p99 ratio. */
export const LATENCY_FLOOR_MS = 5
const GROWTH = 1.2
const LOG_GROWTH = Math.log(GROWTH)
const MAX_BOUND_MS = 60_000

/** Bucket upper bounds in milliseconds (the overflow bucket after them has none). */
export const BUCKET_BOUNDS_MS: readonly number[] = (() => {
  const out = [LATENCY_FLOOR_MS]
  while (out[out.length - 1]! < MAX_BOUND_MS) out.push(out[out.length - 1]! * GROWTH)
  return Object.freeze(out)
})()

const OVERFLOW = BUCKET_BOUNDS_MS.length

function bucketOf(ms: number): number {
  if (!(ms > LATENCY_FLOOR_MS)) return 0
  // bound[i] = floor × growth^i; the smallest i with bound[i] ≥ ms. The epsilon keeps a value
  // exactly on a bound in that bound's bucket despite rounding.
  const i = Math.ceil(Math.log(ms / LATENCY_FLOOR_MS) / LOG_GROWTH - 1e-9)
  return i >= OVERFLOW ? OVERFLOW : i
}

/** What a step's gates look at for one cohort. */
export interface CohortFigures {
  readonly requests: number
  /**
   * Answers with status 500-599 (upstream 5xx and the gateway's own 502/503/504), and requests
   * the cohort's pool could not serve (a fallback pool answered them).
   */
  readonly errors: number
  /** errors / requests; 0 without requests. */
  readonly errorRate: number
  /** Milliseconds; null without requests. */
  readonly p99Ms: number | null
}

/**
 * A window's raw counts, as a worker thread sends them to the main thread (plain data, a
 * structured clone): merged there exactly as if each request had been recorded there.
 */
export interface CohortCounts {
  readonly requests: number
  readonly errors: number
  readonly maxMs: number
  /** Per bucket of BUCKET_BOUNDS_MS, then the overflow bucket. */
  readonly buckets: readonly number[]
}

export class CohortWindow {
  #requests = 0
  #errors = 0
  #maxMs = 0
  readonly #buckets = new Uint32Array(OVERFLOW + 1)

  /** `failedOver`: a fallback pool served it, because the cohort's own pool could not: an error. */
  record(status: number, ms: number, failedOver = false): void {
    this.#requests++
    if (failedOver || (status >= 500 && status <= 599)) this.#errors++
    if (ms > this.#maxMs) this.#maxMs = ms
    this.#buckets[bucketOf(ms)]!++
  }

  /** Add another window's counts (a worker thread's batch); buckets beyond this table's are ignored. */
  merge(c: CohortCounts): void {
    this.#requests += c.requests
    this.#errors += c.errors
    if (c.maxMs > this.#maxMs) this.#maxMs = c.maxMs
    const n = Math.min(c.buckets.length, this.#buckets.length)
    for (let i = 0; i < n; i++) this.#buckets[i]! += c.buckets[i]!
  }

  /** The raw counts (for a batch), or undefined without requests. */
  counts(): CohortCounts | undefined {
    if (this.#requests === 0) return undefined
    return { requests: this.#requests, errors: this.#errors, maxMs: this.#maxMs, buckets: Array.from(this.#buckets) }
  }

  reset(): void {
    this.#requests = 0
    this.#errors = 0
    this.#maxMs = 0
    this.#buckets.fill(0)
  }

  get requests(): number {
    return this.#requests
  }

  /** The 99th percentile (nearest rank), in milliseconds; null without requests. */
  p99(): number | null {
    const n = this.#requests
    if (n === 0) return null
    const rank = Math.ceil(0.99 * n)
    let seen = 0
    for (let i = 0; i < this.#buckets.length; i++) {
      seen += this.#buckets[i]!
      if (seen >= rank) return i === OVERFLOW ? this.#maxMs : Math.min(BUCKET_BOUNDS_MS[i]!, this.#maxMs)
    }
    return this.#maxMs
  }

  figures(): CohortFigures {
    const p99 = this.p99()
    return {
      requests: this.#requests,
      errors: this.#errors,
      errorRate: this.#requests === 0 ? 0 : this.#errors / this.#requests,
      p99Ms: p99 === null ? null : Math.round(p99 * 100) / 100,
    }
  }
}
