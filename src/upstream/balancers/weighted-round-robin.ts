/**
 * Smooth weighted round-robin as NGINX does it (ngx_http_upstream_get_peer): every pick adds
 * each available backend's weight to its running score, takes the highest, and subtracts the
 * total from the winner. Over a cycle of sum(weights) picks each backend gets exactly its
 * weight, interleaved (weights 5,1,1 give a a b a c a a, never a block of five).
 */
import type { Backend, Balancer, SelectionContext } from '../types.js'
import { effectiveWeight, restInRotation, type ResolvedBalancerOptions } from './shared.js'

export class WeightedRoundRobinBalancer implements Balancer {
  readonly #o: ResolvedBalancerOptions
  #for: readonly Backend[] | undefined
  #current = new Float64Array(0)

  constructor(o: ResolvedBalancerOptions) {
    this.#o = o
  }

  fork(): WeightedRoundRobinBalancer {
    const copy = new WeightedRoundRobinBalancer(this.#o)
    copy.#for = this.#for
    copy.#current = this.#current.slice()
    return copy
  }

  *candidates(backends: readonly Backend[], _ctx: SelectionContext): Generator<Backend> {
    const n = backends.length
    if (backends !== this.#for) {
      this.#for = backends
      this.#current = new Float64Array(n)
    }
    const current = this.#current
    const slowStart = this.#o.slowStart
    const now = slowStart > 0 ? this.#o.clock.now() : 0
    let total = 0
    let best = -1
    for (let i = 0; i < n; i++) {
      const b = backends[i]!
      if (!b.isAvailable()) {
        // Forget its score: back in rotation it starts level instead of bursting on old credit.
        current[i] = 0
        continue
      }
      const w = slowStart > 0 ? effectiveWeight(b, now, slowStart) : b.weight
      current[i]! += w
      total += w
      if (best < 0 || current[i]! > current[best]!) best = i
    }
    if (best < 0) return
    current[best]! -= total
    yield backends[best]!
    yield* restInRotation(backends, best)
  }
}
