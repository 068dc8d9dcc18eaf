/**
 * One upstream server of a pool: its in-flight count, health verdict, breaker, response-time
 * average, load report and connection settings. Identity is pool name + origin, so a reload
 * that keeps the origin keeps this object and everything it has learned.
 *
 * The pool layer does not know how bytes reach a backend: transports (HTTP/1 over undici
 * today; HTTP/2, gRPC, TCP later) keep their connection pools as *attachments* of the backend.
 * The backend owns their lifetime only: it closes them when its connection settings change on
 * a reload, and when it is retired and its in-flight requests have ended.
 */
import type { SharedInFlight } from './shared-in-flight.js'
import { Client } from 'undici'
import type { CircuitBreakerSettings } from '../config/model.js'
import { alwaysClosed, ConsecutiveFailureBreaker, type BreakerHooks, type BreakerOutcome, type ManagedBreaker } from './circuit-breaker.js'
import { stickyTokenFor } from './hash.js'
import type { Backend, BackendState, CircuitState, Clock, ConnectionSettings, FailureKind, LoadReport, ProbeRecord } from './types.js'

/**
 * Weight of the newest sample in the response-time average. 0.2 follows a shift in latency
 * within a handful of requests while smoothing out single outliers.
 */
const EWMA_ALPHA = 0.2

/** How a backend's connections are made; a change on reload means new connection pools. */
export type DispatcherConfig = ConnectionSettings

/** What a backend reports to, and asks of, the pool that owns it. */
export interface BackendOwner {
  /** The pool's ejection cap: may this backend's breaker open now? */
  mayEject(backend: UpstreamBackend): boolean
  onEjectionRefused(backend: UpstreamBackend): void
  onCircuit(backend: UpstreamBackend, from: CircuitState, to: CircuitState): void
  onHealth(backend: UpstreamBackend, healthy: boolean, reason: string): void
}

export interface BackendOptions {
  readonly pool: string
  /** scheme://host:port */
  readonly origin: string
  readonly weight: number
  readonly dispatcher: DispatcherConfig
  readonly circuitBreaker: CircuitBreakerSettings | undefined
  readonly clock: Clock
  readonly owner: BackendOwner
  /** True for a backend added by a reload (it ramps under slowStart); false at startup. */
  readonly ramp: boolean
  /** The process-wide in-flight table of worker threads (src/upstream/shared-in-flight.ts). */
  readonly sharedInFlight?: SharedInFlight
}

function sameDispatcherConfig(a: DispatcherConfig, b: DispatcherConfig): boolean {
  return a.connectTimeout === b.connectTimeout && a.ca === b.ca && a.servername === b.servername && a.rejectUnauthorized === b.rejectUnauthorized && a.protocol === b.protocol && a.idleTimeout === b.idleTimeout
}

export function connectOptions(c: DispatcherConfig) {
  // For http:// origins undici ignores the TLS fields. Without `ca`, Node's default trust
  // store applies (bundled Mozilla CAs, plus the OS store under --use-system-ca and
  // NODE_EXTRA_CA_CERTS). Verification is only off when the pool says rejectUnauthorized: false.
  return {
    timeout: c.connectTimeout,
    rejectUnauthorized: c.rejectUnauthorized,
    ...(c.ca !== undefined ? { ca: c.ca } : {}),
    ...(c.servername !== undefined ? { servername: c.servername } : {}),
  }
}

/** Something a transport keeps per backend (a connection pool): closed gracefully when no longer wanted. */
export interface Attachment {
  close(): Promise<unknown>
}

export class UpstreamBackend implements Backend {
  readonly id: string
  readonly poolName: string
  readonly origin: string
  readonly url: URL
  readonly stickyToken: string
  /** Effective weight: `weightOverride ?? configuredWeight`. */
  weight: number
  configuredWeight: number
  weightOverride: number | undefined = undefined
  /** The last active health probe (set by the health checker). */
  lastProbe: ProbeRecord | undefined
  /** The operator's state (runtime control); survives reloads with the object. */
  state: BackendState = 'enabled'
  /** Requests in flight from this thread (shutdown and draining wait for these). */
  activeRequests = 0
  /** Attempts ended so far (a monotonic count; with `activeRequests`, where a queued request stands). */
  settledRequests = 0
  tunnels = 0

  /** TLS settings for connections made outside the undici pool (WebSocket upgrades). */
  get tls(): { readonly ca?: string; readonly servername?: string; readonly rejectUnauthorized: boolean } {
    const c = this.#dispatcherConfig
    return { rejectUnauthorized: c.rejectUnauthorized, ...(c.ca !== undefined ? { ca: c.ca } : {}), ...(c.servername !== undefined ? { servername: c.servername } : {}) }
  }
  healthy = true
  responseTimeMs: number | undefined = undefined
  load: LoadReport | undefined = undefined
  availableSince: number | undefined
  #dispatcherConfig: DispatcherConfig
  readonly #attachments = new Map<symbol, Attachment>()
  #probe: Client | undefined
  #breaker: ManagedBreaker
  readonly #clock: Clock
  readonly #owner: BackendOwner
  readonly #breakerHooks: BreakerHooks
  #retired = false
  #closed: Promise<void> | undefined
  #drained: (() => void) | undefined
  readonly #shared: SharedInFlight | undefined
  readonly #slot: number

  /** Requests in flight for the whole process (every worker thread's); `activeRequests` without workers. */
  get inFlight(): number {
    return this.#slot >= 0 ? this.#shared!.load(this.#slot) : this.activeRequests
  }

  constructor(o: BackendOptions) {
    this.#shared = o.sharedInFlight
    this.#slot = o.sharedInFlight?.slotFor(`${o.pool}|${o.origin}`) ?? -1
    this.poolName = o.pool
    this.origin = o.origin
    this.id = `${o.pool}|${o.origin}`
    this.url = new URL(o.origin)
    this.stickyToken = stickyTokenFor(o.pool, o.origin)
    this.weight = o.weight
    this.configuredWeight = o.weight
    this.#clock = o.clock
    this.#owner = o.owner
    this.availableSince = o.ramp ? o.clock.now() : undefined
    this.#dispatcherConfig = o.dispatcher
    this.#breakerHooks = {
      mayOpen: () => this.#owner.mayEject(this),
      onOpenRefused: () => this.#owner.onEjectionRefused(this),
      onTransition: (from, to) => {
        // A backend back from an open circuit has cold caches and maybe a backlog: ramp it.
        if (to === 'closed') this.availableSince = this.#clock.now()
        this.#owner.onCircuit(this, from, to)
      },
    }
    this.#breaker = this.#createBreaker(o.circuitBreaker)
  }

  get connection(): DispatcherConfig {
    return this.#dispatcherConfig
  }

  attachment<T extends Attachment>(key: symbol, create: (connection: DispatcherConfig) => T): T {
    let a = this.#attachments.get(key) as T | undefined
    if (a === undefined) {
      a = create(this.#dispatcherConfig)
      // A request racing a retirement still gets a working pool; it is closed with the rest.
      this.#attachments.set(key, a)
    }
    return a
  }

  get breaker(): ManagedBreaker {
    return this.#breaker
  }

  /** Removed by a reload (draining or closed). */
  get retired(): boolean {
    return this.#retired
  }

  isAvailable(): boolean {
    return this.state === 'enabled' && !this.#retired && this.healthy && this.#breaker.wouldAdmit()
  }

  /**
   * May a sticky session pinned here continue? As `isAvailable`, but a draining backend still
   * takes the sessions it already has (that is what drain means); a disabled one takes nothing.
   */
  acceptsSession(): boolean {
    return this.state !== 'disabled' && !this.#retired && this.healthy && this.#breaker.wouldAdmit()
  }

  /**
   * Runtime control: the operator's state and weight override (`undefined` keeps it, `null`
   * clears it back to the configured weight). A backend returning to `enabled` ramps under
   * slowStart like one back from an open circuit.
   */
  setControl(state: BackendState | undefined, weight: number | null | undefined): void {
    if (state !== undefined && state !== this.state) {
      if (state === 'enabled') this.availableSince = this.#clock.now()
      this.state = state
    }
    if (weight !== undefined) {
      this.weightOverride = weight === null ? undefined : weight
      this.weight = this.weightOverride ?? this.configuredWeight
    }
  }

  /** Starts an attempt: a breaker ticket (-1 when refused), counted in flight when admitted. */
  begin(): number {
    // A draining backend still serves the sticky sessions routed to it; a disabled one nothing.
    if (this.#retired || this.state === 'disabled') return -1
    const ticket = this.#breaker.admit()
    if (ticket >= 0) {
      this.activeRequests++
      if (this.#slot >= 0) this.#shared!.add(this.#slot, 1)
    }
    return ticket
  }

  /** Starts a last-resort attempt: health and breaker ignored (only a retired backend refuses). */
  beginLastResort(): number {
    // The operator's word is not a health verdict: the last resort never overrides it.
    if (this.#retired || this.state !== 'enabled') return -1
    this.activeRequests++
    if (this.#slot >= 0) this.#shared!.add(this.#slot, 1)
    return this.#breaker.admitLastResort()
  }

  /** Ends an attempt started by `begin` or `beginLastResort`. */
  finish(ticket: number, outcome: BreakerOutcome, responseMs: number, failure: FailureKind | undefined): void {
    this.activeRequests--
    if (this.#slot >= 0) this.#shared!.add(this.#slot, -1)
    this.settledRequests++
    // Connect errors and resets are fast and say nothing about how long the backend takes to
    // answer; averaging them in would make a dead backend look quick to least-response-time.
    if (outcome === 'success' || failure === 'timeout' || failure === 'status') this.#recordResponseTime(responseMs)
    this.#breaker.settle(ticket, outcome)
    if (this.activeRequests === 0 && this.#drained !== undefined) this.#drained()
  }

  #recordResponseTime(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) return
    this.responseTimeMs = this.responseTimeMs === undefined ? ms : this.responseTimeMs + EWMA_ALPHA * (ms - this.responseTimeMs)
  }

  /** The active checker's verdict flipped. */
  setHealthy(healthy: boolean, reason: string): void {
    if (this.healthy === healthy) return
    this.healthy = healthy
    if (healthy) this.availableSince = this.#clock.now()
    this.#owner.onHealth(this, healthy, reason)
  }

  /** The pool dropped active checks: nothing says the backend is down any more. */
  resetHealth(): void {
    this.lastProbe = undefined
    this.setHealthy(true, 'health checks disabled')
  }

  reportLoad(value: number): void {
    this.load = { value: Math.min(1, Math.max(0, value)), at: this.#clock.now() }
  }

  /**
   * Applies reloaded settings. Weight and breaker thresholds change in place; a new TLS or
   * connect-timeout setting needs a new connection pool, and the old one drains gracefully.
   */
  update(weight: number, dispatcher: DispatcherConfig, circuitBreaker: CircuitBreakerSettings | undefined): void {
    // A runtime weight override outlives the reload (as does `state`); the configured one changes.
    this.configuredWeight = weight
    this.weight = this.weightOverride ?? weight
    if (!sameDispatcherConfig(dispatcher, this.#dispatcherConfig)) {
      const old = [...this.#attachments.values()]
      const oldProbe = this.#probe
      this.#dispatcherConfig = dispatcher
      this.#attachments.clear()
      this.#probe = undefined
      // Requests already on the old pools finish there; new ones get pools with the new settings.
      for (const a of old) void a.close().catch(() => {})
      void oldProbe?.close().catch(() => {})
    }
    if (circuitBreaker === undefined) this.#breaker = alwaysClosed
    else if (this.#breaker instanceof ConsecutiveFailureBreaker) this.#breaker.updateSettings(circuitBreaker)
    else this.#breaker = this.#createBreaker(circuitBreaker)
  }

  /**
   * A small, separate connection for health probes, so probes never queue behind traffic on a
   * saturated pool (which would mark a merely busy backend down).
   */
  get probeDispatcher(): Client {
    // A layer-4 backend probed with `type: http` speaks HTTP on its address.
    this.#probe ??= new Client(this.url.protocol === 'tcp:' || this.url.protocol === 'udp:' ? `http://${this.url.host}` : this.origin, { pipelining: 1, connect: connectOptions(this.#dispatcherConfig) })
    return this.#probe
  }

  /** Stops taking requests; closes connections once the in-flight ones have ended. */
  retire(): Promise<void> {
    this.#retired = true
    if (this.#closed !== undefined) return this.#closed
    const drained =
      this.activeRequests <= 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            this.#drained = resolve
          })
    this.#closed = drained.then(() => this.#closeDispatchers())
    return this.#closed
  }

  /** Closes connections now; undici still lets requests already sent finish. */
  close(): Promise<void> {
    this.#retired = true
    this.#drained?.()
    this.#closed ??= this.#closeDispatchers()
    return this.#closed
  }

  async #closeDispatchers(): Promise<void> {
    const probe = this.#probe
    this.#probe = undefined
    const attached = [...this.#attachments.values()]
    this.#attachments.clear()
    await Promise.all([...attached.map((a) => a.close().catch(() => {})), probe?.close().catch(() => {})])
  }

  #createBreaker(settings: CircuitBreakerSettings | undefined): ManagedBreaker {
    return settings === undefined ? alwaysClosed : new ConsecutiveFailureBreaker(settings, this.#clock, this.#breakerHooks)
  }
}
