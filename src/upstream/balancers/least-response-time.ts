/**
 * Lowest (in flight + 1) × moving-average response time, relative to weight: a backend twice
 * as fast takes twice the concurrency. A backend without measurements yet (new, or never
 * answered) gets the average of the measured ones, a neutral start: neither flooded as
 * "infinitely fast" nor starved as unknown. Ties rotate as in least-connections.
 */
import type { Backend, Balancer, SelectionContext } from '../types.js'
import { bestFirst, effectiveWeight, type ResolvedBalancerOptions } from './shared.js'

export class LeastResponseTimeBalancer implements Balancer {
  #last = -1
  readonly #o: ResolvedBalancerOptions
  readonly #remember = (i: number): void => {
    this.#last = i
  }

  constructor(o: ResolvedBalancerOptions) {
    this.#o = o
  }

  fork(): LeastResponseTimeBalancer {
    const copy = new LeastResponseTimeBalancer(this.#o)
    copy.#last = this.#last
    return copy
  }

  candidates(backends: readonly Backend[], _ctx: SelectionContext): Iterable<Backend> {
    const n = backends.length
    if (n === 0) return []
    let sum = 0
    let measured = 0
    for (let i = 0; i < n; i++) {
      const rt = backends[i]!.responseTimeMs
      if (rt !== undefined) {
        sum += rt
        measured++
      }
    }
    // Floor at 1ms so sub-millisecond loopback answers do not collapse every score to ~0.
    const neutral = measured > 0 ? Math.max(1, sum / measured) : 1
    const slowStart = this.#o.slowStart
    const now = slowStart > 0 ? this.#o.clock.now() : 0
    const score = (b: Backend): number => {
      const rt = b.responseTimeMs === undefined ? neutral : Math.max(1, b.responseTimeMs)
      const w = slowStart > 0 ? effectiveWeight(b, now, slowStart) : b.weight
      return ((b.activeRequests + 1) * rt) / w
    }
    return bestFirst(backends, (this.#last + 1) % n, score, this.#remember)
  }
}
