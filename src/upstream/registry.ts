/**
 * All pools of the running configuration. Built once, then reconciled on every reload: a
 * backend whose pool and origin remain keeps its connection pool, health verdict and breaker;
 * the gateway never sees a half-applied configuration because everything that can fail
 * (reading CA files, parsing URLs) happens before anything changes.
 */
import { SharedInFlight } from './shared-in-flight.js'
import { readFileSync } from 'node:fs'
import type { PoolSettings } from '../config/model.js'
import { UpstreamBackend, type BackendOwner, type DispatcherConfig } from './backend.js'
import { createBalancer } from './balancers/index.js'
import { systemClock } from './clock.js'
import { PoolTlsCaError } from './errors.js'
import { PoolHealthChecker } from './health-checker.js'
import { UpstreamPool } from './pool.js'
import type { BackendControl, BackendControlResult, Clock, ManagedPoolRegistry, PoolSnapshot, UpstreamEvent } from './types.js'

/** pino-compatible subset. */
export interface UpstreamLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
}

export interface PoolRegistryOptions {
  readonly clock?: Clock
  readonly logger?: UpstreamLogger
  /** Called synchronously for every event; exceptions are logged and swallowed. */
  readonly onEvent?: (e: UpstreamEvent) => void
  /** Uniform [0, 1) source for randomised balancers and probe jitter (seedable in tests). */
  readonly random?: () => number
  /** Worker threads' process-wide in-flight table (createSharedInFlightMemory), shared by every thread's registry. */
  readonly sharedInFlight?: SharedArrayBuffer
}

interface PreparedPool {
  readonly settings: PoolSettings
  readonly dispatcher: DispatcherConfig
  /** Normalised origin → weight (duplicate entries add up). */
  readonly members: ReadonlyMap<string, number>
}

interface PoolEntry {
  readonly pool: UpstreamPool
  readonly checker: PoolHealthChecker
  readonly owner: BackendOwner
}

export class UpstreamPoolRegistry implements ManagedPoolRegistry {
  readonly #clock: Clock
  readonly #sharedInFlight: SharedInFlight | undefined
  readonly #logger: UpstreamLogger | undefined
  readonly #onEvent: ((e: UpstreamEvent) => void) | undefined
  readonly #random: () => number
  #entries = new Map<string, PoolEntry>()
  #order: readonly UpstreamPool[] = []
  /** Removed backends still draining their in-flight requests. */
  readonly #draining = new Set<UpstreamBackend>()
  #started = false
  #closed = false

  constructor(pools: readonly PoolSettings[], o: PoolRegistryOptions = {}) {
    this.#clock = o.clock ?? systemClock
    this.#sharedInFlight = o.sharedInFlight !== undefined ? new SharedInFlight(o.sharedInFlight) : undefined
    this.#logger = o.logger
    this.#onEvent = o.onEvent
    this.#random = o.random ?? Math.random
    this.#apply(prepare(pools), false)
  }

  get(name: string): UpstreamPool | undefined {
    return this.#entries.get(name)?.pool
  }

  all(): readonly UpstreamPool[] {
    return this.#order
  }

  reconcile(pools: readonly PoolSettings[]): void {
    if (this.#closed) return
    this.#apply(prepare(pools), true)
  }

  start(): void {
    if (this.#closed) return
    this.#started = true
    for (const e of this.#entries.values()) e.checker.start()
  }

  async close(): Promise<void> {
    this.#closed = true
    // Draining backends close now too: a request that never ends must not hold shutdown.
    const closing: Promise<void>[] = [...this.#draining].map((b) => b.close())
    for (const e of this.#entries.values()) {
      e.checker.stop()
      for (const b of e.pool.backends) closing.push(b.close())
    }
    await Promise.all(closing)
  }

  snapshot(): PoolSnapshot[] {
    return this.#order.map((p) => ({
      name: p.name,
      algorithm: p.algorithm,
      fallback: p.fallback ?? null,
      backends: p.backends.map((b) => ({
        url: b.origin,
        weight: b.weight,
        healthy: b.healthy,
        circuit: b.breaker.state,
        activeRequests: b.inFlight,
        state: b.state,
        ...(b.lastProbe !== undefined && { lastProbe: b.lastProbe }),
      })),
    }))
  }

  setBackend(poolName: string, origin: string, change: BackendControl): BackendControlResult | undefined {
    const pool = this.#entries.get(poolName)?.pool
    const b = pool?.backends.find((x) => x.origin === origin)
    if (pool === undefined || b === undefined) return undefined
    const view = () => ({ url: b.origin, state: b.state, weight: b.weight, configuredWeight: b.configuredWeight })
    const before = view()
    b.setControl(change.state, change.weight)
    // Weight tables and hash rings are per member array: rebuild them for the new weight.
    if (change.weight !== undefined) pool.refresh()
    return { before, after: view() }
  }

  #apply(prepared: readonly PreparedPool[], reload: boolean): void {
    const next = new Map<string, PoolEntry>()
    const order: UpstreamPool[] = []
    for (const p of prepared) {
      if (!p.dispatcher.rejectUnauthorized) this.#logger?.warn({ pool: p.settings.name }, 'pool tls.rejectUnauthorized is false: backend certificates are not verified')
      const entry = this.#entries.get(p.settings.name) ?? this.#newEntry(p.settings)
      const old = new Map(entry.pool.backends.map((b) => [b.origin, b]))
      const backends: UpstreamBackend[] = []
      for (const [origin, weight] of p.members) {
        const kept = old.get(origin)
        if (kept !== undefined) {
          kept.update(weight, p.dispatcher, p.settings.circuitBreaker)
          old.delete(origin)
          backends.push(kept)
          continue
        }
        backends.push(
          new UpstreamBackend({
            pool: p.settings.name,
            origin,
            weight,
            dispatcher: p.dispatcher,
            circuitBreaker: p.settings.circuitBreaker,
            clock: this.#clock,
            owner: entry.owner,
            ramp: reload,
            ...(this.#sharedInFlight !== undefined ? { sharedInFlight: this.#sharedInFlight } : {}),
          }),
        )
        this.#emit({ type: 'backend-added', pool: p.settings.name, backend: origin })
      }
      entry.pool.apply(p.settings, backends, createBalancer(p.settings, { clock: this.#clock, random: this.#random }))
      for (const gone of old.values()) this.#retire(gone)
      entry.checker.sync()
      next.set(p.settings.name, entry)
      order.push(entry.pool)
    }
    for (const [name, entry] of this.#entries) {
      if (next.has(name)) continue
      entry.checker.stop()
      for (const b of entry.pool.backends) this.#retire(b)
    }
    this.#entries = next
    this.#order = Object.freeze(order)
    if (this.#started) for (const e of next.values()) if (!e.checker.running) e.checker.start()
  }

  #newEntry(settings: PoolSettings): PoolEntry {
    const pool = new UpstreamPool(settings, [], createBalancer(settings), this.#clock, (e) => this.#emit(e))
    const name = settings.name
    const owner: BackendOwner = {
      mayEject: (b) => pool.mayEject(b),
      onEjectionRefused: (b) => {
        pool.ejectionsRefused++
        this.#emit({ type: 'ejection-refused', pool: name, backend: b.origin, ejected: pool.ejectedCount(), total: pool.backends.length })
      },
      onCircuit: (b, from, to) => {
        this.#emit({ type: 'circuit', pool: name, backend: b.origin, from, to })
        if (to === 'open') this.#emit({ type: 'ejection', pool: name, backend: b.origin })
      },
      onHealth: (b, healthy, reason) => this.#emit({ type: 'health', pool: name, backend: b.origin, healthy, reason }),
    }
    return { pool, owner, checker: new PoolHealthChecker(pool, this.#random) }
  }

  #retire(b: UpstreamBackend): void {
    this.#emit({ type: 'backend-removed', pool: b.poolName, backend: b.origin })
    this.#draining.add(b)
    void b.retire().finally(() => this.#draining.delete(b))
  }

  #emit(e: UpstreamEvent): void {
    try {
      this.#onEvent?.(e)
    } catch (err) {
      this.#logger?.warn({ err, event: e.type }, 'upstream event handler failed')
    }
    const log = this.#logger
    if (log === undefined) return
    switch (e.type) {
      case 'health':
        if (e.healthy) log.info({ pool: e.pool, backend: e.backend, reason: e.reason }, 'backend healthy')
        else log.warn({ pool: e.pool, backend: e.backend, reason: e.reason }, 'backend unhealthy')
        break
      case 'ejection':
        log.warn({ pool: e.pool, backend: e.backend }, 'circuit opened: backend ejected')
        break
      case 'ejection-refused':
        log.warn({ pool: e.pool, backend: e.backend, ejected: e.ejected, total: e.total }, 'circuit kept closed: maxEjectionPercent reached')
        break
      case 'circuit':
        if (e.to === 'closed') log.info({ pool: e.pool, backend: e.backend, from: e.from }, 'circuit closed')
        break
      default:
        break
    }
  }
}

/** Everything fallible about a configuration, done before anything changes. */
function prepare(pools: readonly PoolSettings[]): PreparedPool[] {
  const caFiles = new Map<string, string>()
  return pools.map((settings) => {
    let ca: string | undefined
    const caPath = settings.tls?.ca
    if (caPath !== undefined) {
      ca = caFiles.get(caPath)
      if (ca === undefined) {
        try {
          // Config time, not request time: reading synchronously keeps reconcile atomic.
          ca = readFileSync(caPath, 'utf8')
        } catch (err) {
          throw new PoolTlsCaError(settings.name, caPath, (err as Error).message)
        }
        caFiles.set(caPath, ca)
      }
    }
    const members = new Map<string, number>()
    for (const b of settings.backends) {
      // tcp:// and udp:// (layer-4 pools) have no URL origin ("null"): scheme and host name them.
      const url = new URL(b.url)
      const origin = url.origin !== 'null' ? url.origin : `${url.protocol}//${url.host}`
      members.set(origin, (members.get(origin) ?? 0) + b.weight)
    }
    const dispatcher: DispatcherConfig = {
      connectTimeout: settings.timeouts.connect,
      rejectUnauthorized: settings.tls?.rejectUnauthorized ?? true,
      ...(settings.timeouts.idle !== undefined ? { idleTimeout: settings.timeouts.idle } : {}),
      ...(ca !== undefined ? { ca } : {}),
      ...(settings.tls?.servername !== undefined ? { servername: settings.tls.servername } : {}),
      ...(settings.protocol !== undefined ? { protocol: settings.protocol } : {}),
    }
    return { settings, dispatcher, members }
  })
}

/** Builds the registry for a configuration's pools; call `start()` once the gateway serves. */
export function createPoolRegistry(pools: readonly PoolSettings[], opts?: PoolRegistryOptions): UpstreamPoolRegistry {
  return new UpstreamPoolRegistry(pools, opts)
}
