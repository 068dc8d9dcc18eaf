/**
 * The memory rate-limit store of a process with several worker threads (`server.workers`): one
 * table in a SharedArrayBuffer that every worker counts in, so a budget is one per process
 * (`max: 10` is 10 for the gateway, not 10 per worker), as NGINX's `limit_req_zone` keeps its
 * counters in a shared memory zone.
 *
 * A fixed-size open-addressing table (sized once; nothing is allocated per request): a key is
 * hashed to 64 bits (FNV-1a; two keys sharing a hash would share a budget, a 2^-64 chance per
 * pair), probed linearly over at most PROBES slots; a slot whose window has ended is free, and
 * when every probed slot is live the one whose window ends first is taken over (the oldest
 * bucket is forgotten, as the memory store's LRU forgets). Each slot has a spin lock held for a
 * handful of instructions (compare, reset or increment); the count and window are read and
 * written only under it. Fixed windows, the same counting as the single-thread memory store.
 */
import type { RateLimitStore, RateLimitStoreHandle } from './store.js'

/** Int32 fields per slot: lock, hash (hi, lo), count, window end (ms, hi, lo), spare. */
const FIELDS = 8
const LOCK = 0
const HASH_HI = 1
const HASH_LO = 2
const COUNT = 3
const END_HI = 4
const END_LO = 5
/** Slots probed per key before one is taken over. */
const PROBES = 16
const TWO32 = 4294967296

/** The shared memory for `slots` buckets; give the same buffer to every worker's store. */
export function createSharedRateLimitMemory(slots = 65_536): SharedArrayBuffer {
  return new SharedArrayBuffer(slots * FIELDS * Int32Array.BYTES_PER_ELEMENT)
}

/** 64-bit FNV-1a of a string's UTF-16 code units, as two unsigned 32-bit halves. */
export function hash64(key: string): [number, number] {
  // Two 32-bit lanes of FNV-1a with different offsets: cheap, no BigInt on the hot path.
  let h1 = 0x811c9dc5
  let h2 = 0xcbf29ce4
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193)
    h2 = Math.imul(h2 ^ c, 0x0100019d)
  }
  return [h1 >>> 0, h2 >>> 0]
}

export class SharedMemoryRateLimitStore implements RateLimitStore {
  readonly #t: Int32Array
  readonly #slots: number
  readonly #now: () => number

  constructor(memory: SharedArrayBuffer, now: () => number = Date.now) {
    this.#t = new Int32Array(memory)
    this.#slots = this.#t.length / FIELDS
    this.#now = now
  }

  /** Counts one request for `key` in its window; calls back synchronously with the count and ms left. */
  incr(key: string, cb: (err: Error | null, res?: { current: number; ttl: number }) => void, timeWindow: number, _max: number): void {
    const [hi, lo] = hash64(key)
    const now = this.#now()
    const t = this.#t
    const start = ((hi ^ lo) >>> 0) % this.#slots
    let victim = -1
    let victimEnd = Infinity
    for (let p = 0; p < PROBES; p++) {
      const slot = ((start + p) % this.#slots) * FIELDS
      this.#lock(slot)
      const end = (t[slot + END_HI]! >>> 0) * TWO32 + (t[slot + END_LO]! >>> 0)
      const mine = t[slot + HASH_HI] === (hi | 0) && t[slot + HASH_LO] === (lo | 0)
      if (mine && end > now) {
        const current = ++t[slot + COUNT]!
        this.#unlock(slot)
        cb(null, { current, ttl: end - now })
        return
      }
      if (mine || end <= now) {
        // This key's ended window, or a free slot: a new window starts here.
        const current = this.#claim(slot, hi, lo, now + timeWindow)
        this.#unlock(slot)
        cb(null, { current, ttl: timeWindow })
        return
      }
      if (end < victimEnd) {
        victimEnd = end
        victim = slot
      }
      this.#unlock(slot)
    }
    // Every probed slot holds a live window of another key: the one ending first gives way.
    this.#lock(victim)
    const current = this.#claim(victim, hi, lo, now + timeWindow)
    this.#unlock(victim)
    cb(null, { current, ttl: timeWindow })
  }

  child(): RateLimitStore {
    return this
  }

  #claim(slot: number, hi: number, lo: number, end: number): number {
    const t = this.#t
    t[slot + HASH_HI] = hi | 0
    t[slot + HASH_LO] = lo | 0
    t[slot + END_HI] = Math.floor(end / TWO32) | 0
    t[slot + END_LO] = end % TWO32 | 0
    t[slot + COUNT] = 1
    return 1
  }

  #lock(slot: number): void {
    // Held for a few instructions by whoever holds it: spin (Atomics.wait is not allowed on
    // the main thread, and a sleep would cost more than the wait).
    while (Atomics.compareExchange(this.#t, slot + LOCK, 0, 1) !== 0) {
      /* spin */
    }
  }

  #unlock(slot: number): void {
    Atomics.store(this.#t, slot + LOCK, 0)
  }
}

/** A store handle (src/ratelimit/store.ts) over shared memory: always ready, nothing to close. */
export function sharedMemoryStoreHandle(memory: SharedArrayBuffer): RateLimitStoreHandle {
  return {
    kind: 'memory',
    store: new SharedMemoryRateLimitStore(memory),
    redis: undefined,
    ready: () => Promise.resolve(true),
    onClientError: () => () => {},
    close: () => Promise.resolve(),
  }
}
