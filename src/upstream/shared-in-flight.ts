/**
 * Requests in flight per backend for the whole process, when worker threads share the
 * listeners (`server.workers`, src/workers/): least-connections, power-of-two-choices and
 * least-response-time compare what every worker has sent, not one worker's share.
 *
 * A fixed table in a SharedArrayBuffer (4096 slots): a backend's slot is found by a 32-bit hash
 * of `pool|origin` with linear probing, claimed with one compare-and-swap, so every thread
 * finds the same slot without asking anyone; counts change with `Atomics.add`. Slots are never
 * freed: a configuration's backends over all reloads fit many times over, and a full table
 * leaves a backend on its thread's own count. Two backends sharing a 32-bit hash would share
 * a count, a skewed balance and nothing worse.
 */
const KEY = 0
const COUNT = 1
const FIELDS = 2

export function createSharedInFlightMemory(slots = 4096): SharedArrayBuffer {
  return new SharedArrayBuffer(slots * FIELDS * Int32Array.BYTES_PER_ELEMENT)
}

/** FNV-1a, never 0 (0 marks a free slot). */
function key32(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h === 0 ? 1 : h | 0
}

export class SharedInFlight {
  readonly #t: Int32Array
  readonly #slots: number

  constructor(memory: SharedArrayBuffer) {
    this.#t = new Int32Array(memory)
    this.#slots = this.#t.length / FIELDS
  }

  /** The slot of `id` (claimed on first use), or -1 when the table is full. */
  slotFor(id: string): number {
    const k = key32(id)
    const start = (k >>> 0) % this.#slots
    for (let p = 0; p < this.#slots; p++) {
      const i = ((start + p) % this.#slots) * FIELDS
      const seen = Atomics.compareExchange(this.#t, i + KEY, 0, k)
      if (seen === 0 || seen === k) return i + COUNT
    }
    return -1
  }

  add(slot: number, n: number): void {
    Atomics.add(this.#t, slot, n)
  }

  load(slot: number): number {
    return Atomics.load(this.#t, slot)
  }
}
