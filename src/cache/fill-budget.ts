/**
 * The bound on cache fills in flight: responses being buffered for storage, which live beside
 * the store's `maxSize` until stored. Without it, a flood of distinct URLs buffers one body per
 * concurrent miss, without limit. With it, a fill that cannot get a slot, or whose bytes would
 * pass the byte bound, is not buffered: the response streams through to the client uncached
 * (shed), so the cache never queues work and never holds more than
 *   maxSize (store) + maxBytes (fills) + maxFills × (key + fixed overhead).
 *
 * The rule, from the store's settings (stated in docs/caching.md):
 *   maxBytes = max(maxEntrySize, maxSize / 8), never above maxSize
 *   maxFills = clamp(maxBytes / 8 KiB, 8, 1024)
 * The coalescer's flights are bounded by maxFills and its waiters by 4 × maxFills.
 */

export interface FillLimits {
  /** Bytes buffered by all fills together. */
  readonly maxBytes: number
  /** Fills (and coalescing flights) in progress. */
  readonly maxFills: number
  /** Requests waiting on coalescing flights. */
  readonly maxWaiters: number
}

export function fillLimits(maxSize: number, maxEntrySize: number): FillLimits {
  const maxBytes = Math.min(maxSize, Math.max(maxEntrySize, Math.floor(maxSize / 8)))
  const maxFills = Math.min(1024, Math.max(8, Math.floor(maxBytes / 8192)))
  return { maxBytes, maxFills, maxWaiters: 4 * maxFills }
}

/** One fill's claim on the budget. */
export interface Fill {
  /** Account `n` more buffered bytes; false (nothing accounted) when the budget cannot take them. */
  charge(n: number): boolean
  /** Give back everything this fill holds. Idempotent. */
  end(): void
}

export interface FillStats {
  readonly fills: number
  readonly bytes: number
  /** Highest values seen since the budget was created. */
  readonly peakFills: number
  readonly peakBytes: number
  /** Requests passed through uncached at the bound (counted by the caller with shedOne). */
  readonly shed: number
}

export class FillBudget {
  readonly limits: FillLimits
  #fills = 0
  #bytes = 0
  #peakFills = 0
  #peakBytes = 0
  #shed = 0

  constructor(limits: FillLimits) {
    this.limits = limits
  }

  /**
   * Start a fill, reserving `declared` bytes (the response's Content-Length) when known.
   * Undefined when no slot is free or the declared body does not fit: pass the response through.
   */
  start(declared = 0): Fill | undefined {
    if (this.#fills >= this.limits.maxFills || this.#bytes + declared > this.limits.maxBytes) return undefined
    this.#fills++
    this.#peakFills = Math.max(this.#peakFills, this.#fills)
    let held = 0
    let ended = false
    this.#add(declared)
    held = declared
    let used = 0
    return {
      charge: (n) => {
        if (ended) return false
        const extra = used + n - held
        if (extra > 0) {
          if (this.#bytes + extra > this.limits.maxBytes) return false
          this.#add(extra)
          held += extra
        }
        used += n
        return true
      },
      end: () => {
        if (ended) return
        ended = true
        this.#bytes -= held
        this.#fills--
      },
    }
  }

  /** Count a request passed through uncached (no fill slot, no room for its bytes, no coalescing slot). */
  shedOne(): void {
    this.#shed++
  }

  stats(): FillStats {
    return { fills: this.#fills, bytes: this.#bytes, peakFills: this.#peakFills, peakBytes: this.#peakBytes, shed: this.#shed }
  }

  #add(n: number): void {
    this.#bytes += n
    this.#peakBytes = Math.max(this.#peakBytes, this.#bytes)
  }
}
