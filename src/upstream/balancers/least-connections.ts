/**
 * Fewest requests in flight relative to weight. The score is (in flight + 1) / weight, as
 * HAProxy's leastconn does: with a bare in-flight/weight every idle backend scores 0 whatever
 * its weight, and a ramping (slowStart) backend would take all new traffic until busy.
 * Equal scores rotate: the scan starts after the backend chosen last.
 */
import type { Backend, Balancer, SelectionContext } from '../types.js'
import { bestFirst, effectiveWeight, type ResolvedBalancerOptions } from './shared.js'

export class LeastConnectionsBalancer implements Balancer {
  #last = -1
  readonly #o: ResolvedBalancerOptions
  readonly #remember = (i: number): void => {
    this.#last = i
  }

  constructor(o: ResolvedBalancerOptions) {
    this.#o = o
  }

  fork(): LeastConnectionsBalancer {
    const copy = new LeastConnectionsBalancer(this.#o)
    copy.#last = this.#last
    return copy
  }

  candidates(backends: readonly Backend[], _ctx: SelectionContext): Iterable<Backend> {
    const n = backends.length
    if (n === 0) return []
    const slowStart = this.#o.slowStart
    const now = slowStart > 0 ? this.#o.clock.now() : 0
    const score = (b: Backend): number => (b.activeRequests + 1) / (slowStart > 0 ? effectiveWeight(b, now, slowStart) : b.weight)
    return bestFirst(backends, (this.#last + 1) % n, score, this.#remember)
  }
}
