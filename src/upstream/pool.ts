/**
 * A named set of backends with one balancing algorithm, a retry budget, sticky-session lookup
 * and the ejection cap its breakers answer to. The object lives as long as a pool of that name
 * is configured; a reload swaps its view (settings, members, balancer) in one assignment.
 */
import type { Algorithm, PoolSettings } from '../config/model.js'
import type { UpstreamBackend } from './backend.js'
import type { BreakerOutcome } from './circuit-breaker.js'
import { RetryBudget } from './retry-budget.js'
import type { Backend, Balancer, Clock, FailureKind, Lease, Pool, SelectionContext, UpstreamEvent } from './types.js'

interface PoolView {
  readonly settings: PoolSettings
  readonly backends: readonly UpstreamBackend[]
  readonly balancer: Balancer
  readonly byToken: ReadonlyMap<string, UpstreamBackend>
}

class PoolLease implements Lease {
  readonly backend: UpstreamBackend
  readonly #ticket: number
  #ended = false

  constructor(backend: UpstreamBackend, ticket: number) {
    this.backend = backend
    this.#ticket = ticket
  }

  end(outcome: BreakerOutcome, responseMs: number, failure?: FailureKind): void {
    // Exactly once: a second end (e.g. an error handler after a success path) must not
    // decrement the in-flight count twice or settle the breaker twice.
    if (this.#ended) return
    this.#ended = true
    this.backend.finish(this.#ticket, outcome, responseMs, failure)
  }
}

export class UpstreamPool implements Pool {
  readonly name: string
  readonly #budget: RetryBudget
  readonly #emit: (e: UpstreamEvent) => void
  #view: PoolView
  /** Retry-budget decisions since start (for metrics). */
  retriesAllowed = 0
  retriesDenied = 0
  /** Breaker openings refused by the ejection cap since start (for metrics). */
  ejectionsRefused = 0
  #lastResortNext = 0

  constructor(settings: PoolSettings, backends: readonly UpstreamBackend[], balancer: Balancer, clock: Clock, emit: (e: UpstreamEvent) => void) {
    this.name = settings.name
    this.#budget = new RetryBudget(settings.retry.budget, { clock })
    this.#emit = emit
    this.#view = makeView(settings, backends, balancer)
  }

  get settings(): PoolSettings {
    return this.#view.settings
  }

  get algorithm(): Algorithm {
    return this.#view.settings.algorithm
  }

  get fallback(): string | undefined {
    return this.#view.settings.fallback
  }

  get backends(): readonly UpstreamBackend[] {
    return this.#view.backends
  }

  /**
   * Rebuilds the view over the same members (a runtime weight change): balancers precompute
   * weight tables and hash rings per member array, so a new array makes them rebuild, while the
   * balancer (its rotation position) is kept.
   */
  refresh(): void {
    const v = this.#view
    this.#view = makeView(v.settings, v.backends, v.balancer)
  }

  /** Swaps in reloaded settings, members and balancer at once. */
  apply(settings: PoolSettings, backends: readonly UpstreamBackend[], balancer: Balancer): void {
    this.#budget.ratio = settings.retry.budget
    this.#view = makeView(settings, backends, balancer)
  }

  candidates(ctx: SelectionContext): Iterable<Backend> {
    const v = this.#view
    return v.balancer.candidates(v.backends, ctx)
  }

  preview(ctx: SelectionContext): Backend[] {
    const v = this.#view
    const balancer = v.balancer.fork?.() ?? v.balancer
    return [...balancer.candidates(v.backends, ctx)]
  }

  hasAvailable(): boolean {
    for (const b of this.#view.backends) if (b.isAvailable()) return true
    return false
  }

  acquire(backend: Backend): Lease | null {
    const b = backend as UpstreamBackend
    if (b.poolName !== this.name || typeof b.begin !== 'function') return null
    const ticket = b.begin()
    return ticket < 0 ? null : new PoolLease(b, ticket)
  }

  acquireLastResort(backend: Backend): Lease | null {
    const b = backend as UpstreamBackend
    if (b.poolName !== this.name || typeof b.beginLastResort !== 'function') return null
    const ticket = b.beginLastResort()
    return ticket === -1 ? null : new PoolLease(b, ticket)
  }

  lastResortOrder(preview = false): Backend[] {
    // A rotation, so repeated last-resort requests spread over the pool instead of all
    // hitting the first backend (a balancer's own order skips unavailable backends).
    // Drained and disabled backends are the operator's decision, not a health verdict: skipped.
    const all = this.#view.backends
    const n = all.length
    const out: Backend[] = []
    if (n === 0) return out
    const start = (preview ? this.#lastResortNext : this.#lastResortNext++) % n
    for (let i = 0; i < n; i++) {
      const b = all[(start + i) % n]!
      if (b.state === 'enabled') out.push(b)
    }
    return out
  }

  backendForToken(token: string): Backend | undefined {
    const b = this.#view.byToken.get(token)
    // A draining backend keeps the sessions pinned to it until they end.
    return b !== undefined && b.acceptsSession() ? b : undefined
  }

  tryRetry(): boolean {
    const allowed = this.#budget.tryRetry()
    if (allowed) this.retriesAllowed++
    else this.retriesDenied++
    this.#emit({ type: 'retry', pool: this.name, allowed })
    return allowed
  }

  recordRequest(): void {
    this.#budget.recordRequest()
  }

  endRequest(): void {
    this.#budget.end()
  }

  releaseRetries(n: number): void {
    this.#budget.releaseRetries(n)
  }

  /**
   * The ejection cap: a breaker may open only while open-or-half-open breakers stay within
   * `maxEjectionPercent` of the pool. As in Envoy's outlier detection, one backend may always
   * be ejected (with a cap above 0), or small pools could never eject at all; a cap of 0
   * disables ejection.
   */
  mayEject(backend: UpstreamBackend): boolean {
    const cb = this.#view.settings.circuitBreaker
    if (cb === undefined) return true
    if (cb.maxEjectionPercent <= 0) return false
    const members = this.#view.backends
    let ejected = 0
    for (const b of members) if (b !== backend && b.breaker.ejected) ejected++
    if (ejected === 0) return true
    return (ejected + 1) * 100 <= cb.maxEjectionPercent * members.length
  }

  /** Backends currently out of rotation by their breaker. */
  ejectedCount(): number {
    let n = 0
    for (const b of this.#view.backends) if (b.breaker.ejected) n++
    return n
  }
}

function makeView(settings: PoolSettings, backends: readonly UpstreamBackend[], balancer: Balancer): PoolView {
  const frozen = Object.freeze([...backends])
  return { settings, backends: frozen, balancer, byToken: new Map(frozen.map((b) => [b.stickyToken, b])) }
}
