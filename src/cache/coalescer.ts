/**
 * Request coalescing ("collapsed forwarding"): concurrent misses for one key make one upstream
 * request. The first caller leads and must settle its flight exactly once, with the value to
 * share (the stored entry) or undefined (not storable, failed). Followers wait, bounded by a
 * timeout, and get the shared value or undefined, which means "make your own request". A
 * leader that never settles cannot wedge a key: the timeout ends the flight for everyone.
 *
 * Bounded: at most `maxFlights` keys in flight and `maxWaiters` followers in all, so a flood of
 * distinct URLs cannot grow the map without limit; past either, `join` answers undefined and
 * the caller passes its request through uncached instead of queueing it.
 */

export interface Flight<V> {
  /** Share `value` with the followers (undefined: they fall back to their own requests). Idempotent. */
  settle(value: V | undefined): void
}

export type Coalesced<V> =
  | { readonly leader: true; readonly flight: Flight<V> }
  | { readonly leader: false; readonly shared: Promise<V | undefined> }

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

const NODE_TIMERS: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
}

interface Pending<V> {
  readonly waiters: ((v: V | undefined) => void)[]
  readonly timer: unknown
  done: boolean
}

export interface CoalescerLimits {
  readonly maxFlights: number
  readonly maxWaiters: number
}

const UNBOUNDED: CoalescerLimits = { maxFlights: Infinity, maxWaiters: Infinity }

export class Coalescer<V> {
  readonly #flights = new Map<string, Pending<V>>()
  readonly #timeoutMs: number
  readonly #timers: Timers
  readonly #limits: CoalescerLimits
  #waiting = 0

  constructor(timeoutMs: number, timers: Timers = NODE_TIMERS, limits: CoalescerLimits = UNBOUNDED) {
    this.#timeoutMs = timeoutMs
    this.#timers = timers
    this.#limits = limits
  }

  /**
   * Lead a new flight for `key` (ending at the latest after `timeoutMs`), or follow the one in
   * progress; undefined when the flight or waiter bound is reached (do the request uncoalesced).
   */
  join(key: string, timeoutMs: number = this.#timeoutMs): Coalesced<V> | undefined {
    const pending = this.#flights.get(key)
    if (pending) {
      if (this.#waiting >= this.#limits.maxWaiters) return undefined
      this.#waiting++
      return { leader: false, shared: new Promise<V | undefined>((resolve) => pending.waiters.push(resolve)) }
    }
    if (this.#flights.size >= this.#limits.maxFlights) return undefined
    const p: Pending<V> = {
      waiters: [],
      done: false,
      timer: this.#timers.setTimeout(() => this.#finish(key, p, undefined), timeoutMs),
    }
    this.#flights.set(key, p)
    return { leader: true, flight: { settle: (value) => this.#finish(key, p, value) } }
  }

  /** Flights in progress (for tests and introspection). */
  get size(): number {
    return this.#flights.size
  }

  /** Followers waiting now (for tests and introspection). */
  get waiting(): number {
    return this.#waiting
  }

  #finish(key: string, p: Pending<V>, value: V | undefined): void {
    if (p.done) return
    p.done = true
    this.#timers.clearTimeout(p.timer)
    if (this.#flights.get(key) === p) this.#flights.delete(key)
    this.#waiting -= p.waiters.length
    for (const w of p.waiters) w(value)
  }
}
