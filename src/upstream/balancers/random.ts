/**
 * Weighted random choice. The first draw uses a cumulative-weight table built once per backend
 * set (binary search, no per-request pass); a backend that is unavailable or still ramping
 * under slowStart is accepted with probability effective/configured weight (rejection
 * sampling), which keeps the draw exact. Retry candidates are further draws without replacement.
 */
import type { Backend, Balancer, SelectionContext } from '../types.js'
import { effectiveWeight, rampFactor, weightedDraws, type ResolvedBalancerOptions } from './shared.js'

/** Draws before giving up on the fast table (only when most weight is unavailable). */
const MAX_REJECTIONS = 8

export class WeightedTable {
  readonly cumulative: Float64Array
  readonly total: number

  constructor(readonly backends: readonly Backend[]) {
    this.cumulative = new Float64Array(backends.length)
    let sum = 0
    backends.forEach((b, i) => {
      sum += b.weight
      this.cumulative[i] = sum
    })
    this.total = sum
  }

  /** Index drawn with probability weight/total. */
  draw(random: () => number): number {
    const r = random() * this.total
    const c = this.cumulative
    let lo = 0
    let hi = c.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (c[mid]! <= r) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/**
 * One weighted draw over the available backends with slowStart applied: the fast table first,
 * an exact pass over all backends when rejections pile up. -1 when none is available.
 */
export function drawOne(table: WeightedTable, o: ResolvedBalancerOptions, now: number): number {
  const backends = table.backends
  if (table.total <= 0) return -1
  for (let attempt = 0; attempt < MAX_REJECTIONS; attempt++) {
    const i = table.draw(o.random)
    const b = backends[i]!
    if (!b.isAvailable()) continue
    const f = rampFactor(b, now, o.slowStart)
    if (f >= 1 || o.random() < f) return i
  }
  const w = (b: Backend): number => effectiveWeight(b, now, o.slowStart)
  for (const b of weightedDraws(backends, w, o.random)) return backends.indexOf(b)
  return -1
}

export class RandomBalancer implements Balancer {
  readonly #o: ResolvedBalancerOptions
  #table: WeightedTable | undefined

  constructor(o: ResolvedBalancerOptions) {
    this.#o = o
  }

  *candidates(backends: readonly Backend[], _ctx: SelectionContext): Generator<Backend> {
    if (this.#table?.backends !== backends) this.#table = new WeightedTable(backends)
    const now = this.#o.slowStart > 0 ? this.#o.clock.now() : 0
    const first = drawOne(this.#table, this.#o, now)
    if (first < 0) return
    yield backends[first]!
    const taken = new Uint8Array(backends.length)
    taken[first] = 1
    const w = (b: Backend): number => effectiveWeight(b, this.#o.clock.now(), this.#o.slowStart)
    yield* weightedDraws(backends, w, this.#o.random, taken)
  }
}
