/**
 * The upstream-pool layer's contracts. The proxy depends only on these; algorithms, health
 * checking and breakers live behind them (src/upstream/**), framework-free.
 */
import type { Algorithm, PoolSettings } from '../config/model.js'

export type CircuitState = 'closed' | 'half-open' | 'open'

/**
 * The operator's say over a backend (`PUT /api/pools/:pool/backends/:backend`), beside health
 * and breaker: `enabled` serves; `drain` takes no new requests but lets in-flight ones and the
 * sticky sessions pinned to it finish; `disabled` takes no requests at all. Kept across reloads
 * while the backend stays in the configuration.
 */
export type BackendState = 'enabled' | 'drain' | 'disabled'

/** How a backend's connections are made. */
export interface ConnectionSettings {
  readonly connectTimeout: number
  /** PEM text of the pool's `tls.ca` (replaces the default trust store), if any. */
  readonly ca?: string
  readonly servername?: string
  readonly rejectUnauthorized: boolean
  /** The pool's upstream protocol (absent: HTTP/1.1); the transport follows it. */
  readonly protocol?: 'h2' | 'h2c'
  /** `timeouts.idle`: an idle keep-alive connection is closed after this (ms); absent: the transport's default. */
  readonly idleTimeout?: number
}

/**
 * Passive health of one backend from real traffic. Closed lets everything through; after
 * `consecutiveFailures` failures it opens and refuses; after `openDuration` it is half-open
 * and admits `halfOpenRequests` trial requests; a trial success closes it, a failure reopens.
 */
export interface CircuitBreaker {
  /** The state now (an open breaker whose open time has elapsed reads as half-open). */
  readonly state: CircuitState
  /** Whether a request may go to the backend now; in half-open this takes a trial permit. */
  tryAcquire(): boolean
  /** The outcome of a request admitted by tryAcquire. */
  onSuccess(): void
  onFailure(): void
  /** A request admitted by tryAcquire ended without an outcome (client went away): return its permit. */
  onCancel(): void
}

/** Why an attempt on a backend ended badly; drives breakers, retries and the status code. */
export type FailureKind = 'connect-error' | 'reset' | 'timeout' | 'status'

/**
 * One upstream server of a pool. Identity is its origin URL within its pool: a reload keeps the
 * Backend object (and so its connection pool, health and breaker) when the origin remains.
 */
export interface Backend {
  /** `${pool}|${origin}`: stable across reloads. */
  readonly id: string
  readonly poolName: string
  /** scheme://host:port, no path. */
  readonly origin: string
  readonly url: URL
  /** Effective weight: the runtime override when set, else the configured weight (may change on reload). */
  readonly weight: number
  /** The weight the configuration gives it. */
  readonly configuredWeight: number
  /** The runtime weight override (`PUT /api/pools/:pool/backends/:backend`), if any. */
  readonly weightOverride: number | undefined
  /** The operator's state; `isAvailable()` is false unless `enabled`. */
  readonly state: BackendState
  /** The last active health probe, once one ran. */
  readonly lastProbe?: ProbeRecord
  /** How connections to this backend are made (timeout, TLS trust); a new object when a reload changes it. */
  readonly connection: ConnectionSettings
  /**
   * The transport-owned resource stored under `key` (a connection pool), created with the
   * current connection settings on first use. The backend closes it when the settings change
   * or the backend is retired; the pool layer never looks inside.
   */
  attachment<T extends { close(): Promise<unknown> }>(key: symbol, create: (connection: ConnectionSettings) => T): T
  readonly breaker: CircuitBreaker
  /** Requests in flight right now. */
  readonly activeRequests: number
  /**
   * Requests in flight for the whole process: with worker threads (`server.workers`), every
   * thread's; otherwise `activeRequests`. What load-aware balancers compare.
   */
  readonly inFlight: number
  /** Attempts ended so far, monotonic: a request queued behind N others has started once N more ended. */
  readonly settledRequests: number
  /**
   * Of `activeRequests`, those that hold no connection of the transport (WebSocket tunnels,
   * which dial their own): left out when the proxy estimates the wait for a connection.
   * Maintained by whoever takes such a lease.
   */
  tunnels: number
  /** Verdict of active health checks; true when the pool has none. */
  readonly healthy: boolean
  /** Opaque, stable token naming this backend in a session cookie (never its address). */
  readonly stickyToken: string
  /** TLS settings of the pool for https:// origins (for connections made outside a transport's pool). */
  readonly tls?: { readonly ca?: string; readonly servername?: string; readonly rejectUnauthorized: boolean }
  /** Enabled, healthy and not refused by its breaker. Does not take a permit. */
  isAvailable(): boolean
  /**
   * Moving average (EWMA) of response times in ms, for least-response-time; undefined until the
   * first measured response (balancers then give it a neutral value).
   */
  readonly responseTimeMs: number | undefined
  /** Last utilisation the backend reported in its health-check JSON (`{"load": 0..1}`). */
  readonly load: LoadReport | undefined
  /**
   * Clock time (see Clock) at which the backend last became available after being unavailable
   * or added by a reload; undefined when it has been available since the gateway started.
   * slowStart ramps its weight from this instant.
   */
  readonly availableSince: number | undefined
}

/** A utilisation report: `value` in 0..1, `at` the Clock time it arrived. */
export interface LoadReport {
  readonly value: number
  readonly at: number
}

/** Time source of the upstream layer; injectable so time-based state machines test without sleeping. */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences matter). */
  now(): number
}

/** One attempt on a backend: obtained before sending, ended exactly once. */
export interface Lease {
  readonly backend: Backend
  end(outcome: 'success' | 'failure' | 'cancel', responseMs: number, failure?: FailureKind): void
}

/** What a balancer may use to place a request. */
export interface SelectionContext {
  /** Client IP as resolved with trustedProxies. */
  readonly clientIp: string
  /** Value of the pool's `hashOn` key for this request, or undefined when absent. */
  readonly hashKey: string | undefined
}

/**
 * A balancing algorithm. `candidates` yields available backends in the order to try them:
 * the first is the choice, the next ones serve retries. It is lazy, so the common case
 * computes one choice only. Backends the caller already tried are skipped by the caller.
 */
export interface Balancer {
  candidates(backends: readonly Backend[], ctx: SelectionContext): Iterable<Backend>
  /**
   * A balancer in the same state (rotation position, smooth-WRR credits) that evolves
   * separately: running it previews the live order without moving real traffic. Balancers
   * without selection state may return themselves.
   */
  fork?(): Balancer
}

/**
 * Active health checking of a pool's backends: periodic probes with jitter, never
 * overlapping, flipping a backend after N consecutive results.
 */
export interface HealthChecker {
  start(): void
  stop(): void
}

/** A named set of backends with one algorithm, its health, retry budget and fallback. */
export interface Pool {
  readonly name: string
  readonly algorithm: Algorithm
  readonly settings: PoolSettings
  readonly fallback: string | undefined
  readonly backends: readonly Backend[]
  /** Available backends in try order for this request. */
  candidates(ctx: SelectionContext): Iterable<Backend>
  /**
   * The order `candidates` would give for this request now, without changing any balancer
   * state (for explain). Exact for deterministic algorithms and rotations; for randomised ones
   * (random, power-of-two-choices, resource-based) one sample.
   */
  preview(ctx: SelectionContext): Backend[]
  /** True when at least one backend is available. */
  hasAvailable(): boolean
  /** Start an attempt on a backend: counts it in flight and takes a breaker permit. Null when the breaker refuses. */
  acquire(backend: Backend): Lease | null
  /**
   * Last resort (SPEC §5): a lease on `backend` whatever its health and breaker say, for a
   * request that found nothing available in the pool and its fallback chain. Null only for a
   * backend that left the configuration.
   */
  acquireLastResort(backend: Backend): Lease | null
  /** Every backend of the pool, in the order a last-resort request tries them (rotating; `preview` does not advance it). */
  lastResortOrder(preview?: boolean): Backend[]
  /** Sticky sessions: the available backend a cookie token names, if any. */
  backendForToken(token: string): Backend | undefined
  /** Retry budget: whether one more retry is allowed now (records it when true). */
  tryRetry(): boolean
  /** Retry budget: a request started on the pool (the budget is a share of those in flight). */
  recordRequest(): void
  /** Retry budget: a request counted by `recordRequest` is done. */
  endRequest(): void
  /** Retry budget: `n` retries granted by `tryRetry` are done. */
  releaseRetries(n: number): void
}

/** All pools of the running configuration; reconciled (not rebuilt) on reload. */
export interface PoolRegistry {
  get(name: string): Pool | undefined
  all(): readonly Pool[]
}

/** Exactly the `GET /api/pools` entry of the SPEC. */
/** The outcome of one active health probe (`GET /api/pools`, the dashboard). */
export interface ProbeRecord {
  /** ISO 8601 time the probe ended. */
  readonly time: string
  readonly ok: boolean
  /** The answer's status (HTTP probes that got one). */
  readonly status?: number
  readonly latencyMs: number
  /** Why it failed: `status 503`, `timeout`, `ECONNREFUSED`… */
  readonly error?: string
}

export interface PoolSnapshot {
  readonly name: string
  readonly algorithm: Algorithm
  readonly fallback: string | null
  readonly backends: readonly {
    readonly url: string
    readonly weight: number
    readonly healthy: boolean
    readonly circuit: CircuitState
    readonly activeRequests: number
    /** The operator's state (`enabled` unless changed at run time). */
    readonly state: BackendState
    /** The last active health probe, once one ran. */
    readonly lastProbe?: ProbeRecord
  }[]
}

/**
 * What happened in the upstream layer, for metrics and logs. `pool` is the pool name and
 * `backend` the backend's origin (its label in metrics).
 * - `backend-added` / `backend-removed`: a backend entered or left the configuration (metrics
 *   create or delete its label series).
 * - `health`: the active check's verdict flipped.
 * - `circuit`: a breaker changed state (`open` from closed or half-open is an ejection).
 * - `ejection`: a breaker opened, taking the backend out of rotation.
 * - `ejection-refused`: a breaker reached its failure threshold but stayed closed because
 *   opening it would exceed the pool's `maxEjectionPercent`.
 * - `retry`: the proxy asked the retry budget for a retry; `allowed` says whether it got one.
 */
export type UpstreamEvent =
  | { readonly type: 'backend-added'; readonly pool: string; readonly backend: string }
  | { readonly type: 'backend-removed'; readonly pool: string; readonly backend: string }
  | { readonly type: 'health'; readonly pool: string; readonly backend: string; readonly healthy: boolean; readonly reason: string }
  | { readonly type: 'circuit'; readonly pool: string; readonly backend: string; readonly from: CircuitState; readonly to: CircuitState }
  | { readonly type: 'ejection'; readonly pool: string; readonly backend: string }
  | { readonly type: 'ejection-refused'; readonly pool: string; readonly backend: string; readonly ejected: number; readonly total: number }
  | { readonly type: 'retry'; readonly pool: string; readonly allowed: boolean }

/** The registry as its owner (the gateway) sees it: reload, start and stop. */
export interface ManagedPoolRegistry extends PoolRegistry {
  /**
   * Applies a new pool configuration in one synchronous step: backends whose pool and origin
   * remain keep their connection pool, health and breaker state and take the new weight and
   * settings; new ones are created; removed ones stop taking requests and their connections
   * close once their in-flight requests have ended. Throws (changing nothing) when a pool's
   * settings cannot be applied, e.g. an unreadable `tls.ca` file.
   */
  reconcile(pools: readonly PoolSettings[]): void
  /** Starts active health checks (call when the gateway is ready to serve). */
  start(): void
  /** Stops health checks and closes every connection pool (waits for in-flight requests). */
  close(): Promise<void>
  /** The `GET /api/pools` view, in configuration order. */
  snapshot(): PoolSnapshot[]
  /**
   * Runtime control of one backend (`origin` as scheme://host:port): its state and weight
   * override (`null` clears the override). Both outlive reloads while the backend stays in the
   * configuration. Undefined when the pool or the backend is unknown.
   */
  setBackend(pool: string, origin: string, change: BackendControl): BackendControlResult | undefined
}

/** A change to a backend by the operator; either key. */
export interface BackendControl {
  readonly state?: BackendState
  /** A weight override; `null` returns to the configured weight. */
  readonly weight?: number | null
}

/** A backend as runtime control shows it. */
export interface BackendControlView {
  readonly url: string
  readonly state: BackendState
  readonly weight: number
  readonly configuredWeight: number
}

export interface BackendControlResult {
  readonly before: BackendControlView
  readonly after: BackendControlView
}
