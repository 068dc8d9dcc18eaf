/**
 * Strict rotation over the available backends; weights are ignored. The position is "the
 * backend chosen last", so an unavailable backend is skipped without giving its turn to the one
 * after it twice.
 */
import type { Backend, Balancer, SelectionContext } from '../types.js'
import { rampFactor, restInRotation, type ResolvedBalancerOptions } from './shared.js'

export class RoundRobinBalancer implements Balancer {
  #last = -1
  readonly #o: ResolvedBalancerOptions

  constructor(o: ResolvedBalancerOptions) {
    this.#o = o
  }

  fork(): RoundRobinBalancer {
    const copy = new RoundRobinBalancer(this.#o)
    copy.#last = this.#last
    return copy
  }

  *candidates(backends: readonly Backend[], _ctx: SelectionContext): Generator<Backend> {
    const n = backends.length
    if (n === 0) return
    const slowStart = this.#o.slowStart
    const now = slowStart > 0 ? this.#o.clock.now() : 0
    let first = -1
    let skippedRamping = -1
    for (let k = 1; k <= n; k++) {
      const i = (this.#last + k) % n
      const b = backends[i]!
      if (!b.isAvailable()) continue
      // slowStart without weights: a ramping backend takes its turn with probability equal to
      // its ramp share, so its share of the rotation grows linearly over the window.
      if (slowStart > 0 && skippedRamping < 0) {
        const f = rampFactor(b, now, slowStart)
        if (f < 1 && this.#o.random() >= f) {
          skippedRamping = i
          continue
        }
      }
      first = i
      break
    }
    if (first < 0) first = skippedRamping
    if (first < 0) return
    this.#last = first
    yield backends[first]!
    yield* restInRotation(backends, first)
  }
}
