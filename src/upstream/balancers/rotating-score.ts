/**
 * Base of the "lowest score wins, ties rotate" balancers (least-connections,
 * least-response-time): a subclass only says how to score; the rotation state, forking and the
 * lazy best-first iteration live here once.
 */
import type { Backend, Balancer, SelectionContext } from '../types.js'
import { bestFirst, effectiveWeight, type ResolvedBalancerOptions } from './shared.js'

export abstract class RotatingScoreBalancer implements Balancer {
  #last = -1
  protected readonly o: ResolvedBalancerOptions
  readonly #remember = (i: number): void => {
    this.#last = i
  }

  constructor(o: ResolvedBalancerOptions) {
    this.o = o
  }

  /** The scoring function for this selection (lower is better). */
  protected abstract scorer(backends: readonly Backend[]): (b: Backend) => number

  /** The weight a score divides by: slowStart-ramped when configured. */
  protected weightFn(): (b: Backend) => number {
    const slowStart = this.o.slowStart
    if (slowStart <= 0) return (b) => b.weight
    const now = this.o.clock.now()
    return (b) => effectiveWeight(b, now, slowStart)
  }

  fork(): this {
    const copy = new (this.constructor as new (o: ResolvedBalancerOptions) => this)(this.o)
    copy.#last = this.#last
    return copy
  }

  candidates(backends: readonly Backend[], _ctx: SelectionContext): Iterable<Backend> {
    const n = backends.length
    if (n === 0) return []
    return bestFirst(backends, (this.#last + 1) % n, this.scorer(backends), this.#remember)
  }
}
