/**
 * Traffic follows spare capacity: backends report utilisation as `{"load": 0..1}` in their
 * health-check JSON, and each request goes to a backend drawn with probability proportional
 * to (1 - load) × weight. A weighted draw, not "the least loaded": reports arrive once per
 * health interval, and sending everything to the one that looked idlest at the last report
 * would flood it until the next one.
 *
 * Reports older than three health intervals (or missing, or a pool without health checks) say
 * nothing reliable about now: if any available backend lacks a fresh one, the whole pool falls
 * back to least-connections, which needs no reports. So does a pool where every backend
 * reports full load (no spare capacity anywhere to follow).
 */
import type { Backend, Balancer, SelectionContext } from '../types.js'
import { LeastConnectionsBalancer } from './least-connections.js'
import { effectiveWeight, weightedDraws, type ResolvedBalancerOptions } from './shared.js'

/** A report is stale after this many health intervals (one lost probe is tolerated, two are not). */
export const STALE_AFTER_INTERVALS = 3

export class ResourceBasedBalancer implements Balancer {
  readonly #o: ResolvedBalancerOptions
  readonly #staleAfter: number
  readonly #fallback: LeastConnectionsBalancer
  readonly #healthInterval: number | undefined

  /** `healthInterval`: the pool's health-check interval in ms, or undefined without checks. */
  constructor(o: ResolvedBalancerOptions, healthInterval: number | undefined, fallback?: LeastConnectionsBalancer) {
    this.#o = o
    this.#healthInterval = healthInterval
    this.#staleAfter = healthInterval === undefined ? -1 : STALE_AFTER_INTERVALS * healthInterval
    this.#fallback = fallback ?? new LeastConnectionsBalancer(o)
  }

  fork(): ResourceBasedBalancer {
    return new ResourceBasedBalancer(this.#o, this.#healthInterval, this.#fallback.fork())
  }

  /** Whether the backends' reports are fresh enough to balance on (false: least-connections). */
  usesReports(backends: readonly Backend[]): boolean {
    if (this.#staleAfter < 0) return false
    const now = this.#o.clock.now()
    let spare = 0
    let available = 0
    for (const b of backends) {
      if (!b.isAvailable()) continue
      available++
      const load = b.load
      if (load === undefined || now - load.at > this.#staleAfter) return false
      spare += 1 - load.value
    }
    return available > 0 && spare > 0
  }

  candidates(backends: readonly Backend[], ctx: SelectionContext): Iterable<Backend> {
    if (!this.usesReports(backends)) return this.#fallback.candidates(backends, ctx)
    const o = this.#o
    const now = o.clock.now()
    const spare = (b: Backend): number => (1 - (b.load?.value ?? 1)) * effectiveWeight(b, now, o.slowStart)
    return weightedDraws(backends, spare, o.random)
  }
}
