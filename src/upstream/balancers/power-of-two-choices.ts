/**
 * Power of two choices (Mitzenmacher): draw two distinct backends at random by weight and send
 * to the one with fewer requests in flight. Nearly as even as least-connections, without
 * every gateway instance herding onto the same "least loaded" backend. Retry candidates: the
 * loser, then further weighted draws.
 */
import type { Backend, Balancer, SelectionContext } from '../types.js'
import { drawOne, WeightedTable } from './random.js'
import { effectiveWeight, weightedDraws, type ResolvedBalancerOptions } from './shared.js'

export class PowerOfTwoChoicesBalancer implements Balancer {
  readonly #o: ResolvedBalancerOptions
  #table: WeightedTable | undefined

  constructor(o: ResolvedBalancerOptions) {
    this.#o = o
  }

  *candidates(backends: readonly Backend[], _ctx: SelectionContext): Generator<Backend> {
    if (this.#table?.backends !== backends) this.#table = new WeightedTable(backends)
    const o = this.#o
    const now = o.slowStart > 0 ? o.clock.now() : 0
    const a = drawOne(this.#table, o, now)
    if (a < 0) return
    const taken = new Uint8Array(backends.length)
    taken[a] = 1
    const w = (b: Backend): number => effectiveWeight(b, now, o.slowStart)
    let b = -1
    // Draw the second among the others (a second table draw could hit `a` again).
    for (const other of weightedDraws(backends, w, o.random, taken)) {
      b = backends.indexOf(other)
      break
    }
    if (b < 0) {
      yield backends[a]!
      return
    }
    const [first, second] = backends[b]!.inFlight < backends[a]!.inFlight ? [b, a] : [a, b]
    yield backends[first]!
    if (backends[second]!.isAvailable()) yield backends[second]!
    yield* weightedDraws(backends, (x) => effectiveWeight(x, o.clock.now(), o.slowStart), o.random, taken)
  }
}
