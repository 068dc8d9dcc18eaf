/**
 * createGateway: one gateway = data listeners (plain, TLS) running the framework-free data plane
 * (src/data-plane/) over a swappable RuntimeState, an admin app (Fastify) on its own listener,
 * a pool registry whose backend state outlives reloads, and one metrics registry.
 *
 * Reload builds and validates a whole new configuration, compiles its route table, reconciles
 * the pool registry (backends that remain keep their connections, health and breakers) and
 * swaps one reference. Requests in flight keep the snapshot they started with.
 */
import type { FastifyInstance } from 'fastify'
import { EventEmitter } from 'node:events'
import http from 'node:http'
import type { AddressInfo, Server as NetServer } from 'node:net'
import { pino, type Logger } from 'pino'
import { ConfigError, loadConfigFile, normalizeConfig } from './config/index.js'
import type { GatewaySettings, ServerSettings } from './config/model.js'
import type { GatewayFile } from './config/schema.js'
import { rawErrorResponse } from './errors.js'
import { refuseConnect } from './net/edge-socket.js'
import { deferContinue } from './net/expect-continue.js'
import type { GatewayHandle } from './gateway-handle.js'
import { createMetrics, type GatewayMetrics } from './metrics.js'
import { compileTrustedProxies } from './net/client-ip.js'
import type { Feature } from './pipeline/feature.js'
import { compilePipelines, prepareFeatures, type Pipelines, type PreparedFeatures } from './pipeline/pipeline.js'
import { createForward } from './proxy/forward.js'
import { poolTransport } from './proxy/transports/index.js'
import { compileRouteTable } from './routing/route-table.js'
import { loadGeo } from './net/geo.js'
import type { RuntimeState } from './runtime-state.js'
import type { RouteTable } from './routing/types.js'
import { createPoolRegistry, type ManagedPoolRegistry, type PoolRegistry } from './upstream/index.js'
import type { UpstreamEvent } from './upstream/types.js'
import { sharedMemoryStoreHandle } from './ratelimit/shared-memory-store.js'
import { RemoteStore } from './cache/shared-store.js'
import type { MessagePort } from 'node:worker_threads'
import { threadView } from './workers/thread-view.js'
import { createAnswerRecorder } from './data-plane/recorder.js'
import { createDataListener, type DataListener } from './data-plane/listener.js'
import type { ServerFactory } from './net/server-factory.js'
import { buildAdmin } from '../routes/admin.js'
import { startTlsListener, withHttpsRedirect, type TlsListener } from './tls/listener.js'
import { builtInFeatures } from './features.js'
import type { CanaryReport } from './canary/service.js'
import { createRateLimitStore } from '../plugins/rate-limit-store.js'
import { compileProblems } from './check.js'
import { createEventLog, recordUpstreamEvent, type EventLog } from './events.js'
import { pruneRemovedSeries } from './metrics-prune.js'
import { createStateWriter, readStateFile } from './state-file.js'
import { ListenError } from './listen-error.js'
import { withH2c } from './net/h2c.js'
import { createAcmeManager, withAcmeChallenges, type AcmeManager } from './tls/acme.js'
import { acmeCertificateFiles } from './config/acme-files.js'
import { withWeights } from './routing/split.js'
import { applyRuntimeSnapshot, takeRuntimeSnapshot, type RuntimeSnapshot } from './runtime-changes.js'
import { dirname, resolve as resolvePath } from 'node:path'
import type { CompiledRoute, SplitSelector } from './routing/types.js'
import { StreamManager } from './streams/stream-manager.js'
import { acceptProxyProtocol } from './net/proxy-protocol-accept.js'

export interface GatewayOptions {
  /** The file to re-read on reload (SIGHUP, POST /api/reload). */
  readonly configPath?: string
  /** A pino logger, or false for silence (tests). Default: JSON to stdout. */
  readonly logger?: Logger | false
  readonly env?: Record<string, string | undefined>
  /** Collect Node process metrics (default true). */
  readonly processMetrics?: boolean
  /**
   * Features of the embedder's own, after the built-in ones (src/pipeline/feature.ts): each is
   * prepared with every configuration and compiled per route like the built-ins, and runs on
   * every listener (plain and TLS). This is how to extend the data plane: the data listeners
   * run no framework, so there is no app to add hooks to.
   */
  readonly features?: readonly Feature[]
  /**
   * How to read the whole configuration again for a reload without an argument (SIGHUP,
   * `POST /api/reload`). Default: the file at `configPath`. With `configSource.etcd` the CLI
   * passes one that reads the local file and the etcd key.
   */
  readonly loadConfig?: () => Promise<unknown>
  /**
   * Run as one worker thread of a multi-thread gateway (src/workers/): listeners bound with
   * SO_REUSEPORT beside the other workers', no health checks of its own (the main thread probes
   * once for the process and sends verdicts), rate-limit budgets in the shared memory.
   */
  readonly worker?: {
    readonly sharedRateLimit?: SharedArrayBuffer
    /** The main thread's memory cache, served over this port (src/cache/shared-store.ts). */
    readonly cachePort?: MessagePort
  }
  /** The process-wide in-flight table shared by every worker thread's registry (src/upstream/shared-in-flight.ts). */
  readonly sharedInFlight?: SharedArrayBuffer
  /** false: bind no data listener (the main thread of a multi-thread gateway: admin, health checks, reloads). */
  readonly dataPlane?: boolean
  /** Every upstream event (health, circuit transitions, ...) as the registry reports it. */
  readonly onUpstreamEvent?: (e: UpstreamEvent) => void
  /** What `GET /metrics` answers, when not this gateway's own registry (the whole process of workers). */
  readonly metricsText?: () => Promise<{ readonly contentType: string; readonly body: string }>
  /** The series of the whole process (several worker threads), for the dashboard's stats; default: this registry's. */
  readonly processSeries?: () => Promise<readonly { readonly name: string; readonly values: readonly unknown[] }[]>
  /** `GET /api/workers`; default: this thread alone. */
  readonly workers?: () => Promise<readonly WorkerView[]>
  /**
   * A worker thread's canary analyses: present, this gateway decides no canary and sends its
   * cohorts' outcomes here in batches; the main thread decides (src/canary/controller.ts).
   */
  readonly canaryReport?: (reports: CanaryReport[]) => void
}

/** One worker thread as `GET /api/workers` shows it (SPEC §5). */
export interface WorkerView {
  readonly id: number
  readonly threadId: number
  readonly requests: number
  readonly eventLoopLagMs: number
  readonly heapUsedBytes: number
  readonly restarts: number
}

/** One dependency's answer to the deep health check (`GET /health?deep=1`). */
export interface DependencyStatus {
  readonly ok: boolean
  readonly [detail: string]: unknown
}

export type ReloadResult = { readonly ok: true; readonly version: number } | { readonly ok: false; readonly problems: readonly string[] }

export interface Gateway {
  readonly state: RuntimeState
  readonly settings: GatewaySettings
  /** The plain data listener (its Node server: `listener.server`). */
  readonly listener: DataListener
  /** What the data plane and the admin API share of this gateway (state, metrics, log, trust). */
  readonly handle: GatewayHandle
  readonly admin: FastifyInstance | undefined
  readonly metrics: GatewayMetrics
  readonly pools: ManagedPoolRegistry
  /** The layer-4 listeners (`streams:`, `GET /api/streams`). */
  readonly streams: StreamManager
  readonly log: Logger
  /** Bound URLs, after listen(). */
  readonly url: string
  readonly adminUrl: string | undefined
  /** The TLS listener's bound URL (https://…), when server.tls is set. */
  readonly httpsUrl: string | undefined
  /** The certificates the TLS listener serves now (empty without TLS), for the dashboard. */
  readonly certificates: readonly ServedCertificate[]
  /** The ACME certificate manager, when server.tls.acme is set (renewNow() for operators and tests). */
  readonly acme: AcmeManager | undefined
  /** True once listening and until the listeners begin to close (after `server.shutdownDelay`). */
  readonly serving: boolean
  /** `GET /ready`: serving and not draining. */
  readonly ready: boolean
  /** True from `drain()` (SIGTERM, SIGINT, `POST /api/drain`) until exit. */
  readonly draining: boolean
  /**
   * Go unready (`GET /ready` answers 503) while still serving, so outer balancers stop sending
   * first; one-way. False when already draining.
   */
  drain(reason: string): boolean
  /** Recent events (`GET /api/events`), newest first. */
  readonly events: EventLog
  /**
   * Binds every listener (TLS, plain, admin) before reporting "listening". A bind failure closes
   * whatever was opened and rejects with a ListenError naming the listener, address and port.
   */
  listen(): Promise<void>
  reload(config?: unknown): Promise<ReloadResult>
  close(): Promise<void>
  /** Recent reloads, newest first (for the dashboard). */
  readonly reloadHistory: readonly ReloadRecord[]
  /** Runtime changes in force now (split weights, backend states and weights beyond the file). */
  runtimeSnapshot(): RuntimeSnapshot
  /** Make the runtime changes equal `snapshot` (another instance's); returns what could not be applied. */
  applyRuntime(snapshot: RuntimeSnapshot, from: string): string[]
  /** The admin API made a runtime change: tell the listeners (a fleet's sync publishes it). */
  runtimeChanged(action: string, detail: Record<string, unknown>): void
  onRuntimeChange(listener: (action: string, detail: Record<string, unknown>) => void): () => void
  /** A dependency the deep health check asks (Redis, etcd); pools are always asked. */
  addDependency(name: string, probe: () => Promise<DependencyStatus>): void
  /** `GET /health?deep=1`: every dependency's connectivity. */
  deepHealth(): Promise<{ readonly ok: boolean; readonly checks: Record<string, DependencyStatus> }>
  /** `GET /metrics` when it is not this gateway's registry alone (several worker threads). */
  readonly metricsText?: () => Promise<{ readonly contentType: string; readonly body: string }>
  /** The series of the whole process, when not this registry's alone (several worker threads). */
  readonly processSeries?: () => Promise<readonly { readonly name: string; readonly values: readonly unknown[] }[]>
  /** `GET /api/workers`. */
  workers(): Promise<readonly WorkerView[]>
}

/** One certificate the TLS listener serves (GET /api/stats, the dashboard). */
export interface ServedCertificate {
  readonly file: string
  readonly subject: string
  readonly serverNames: readonly string[]
  readonly validTo: string
  /** Obtained and renewed by the gateway over ACME. */
  readonly acme: boolean
}

export interface ReloadRecord {
  readonly at: string
  readonly ok: boolean
  readonly version: number
  readonly problems?: readonly string[]
}

/**
 * Compile the route table after asking every compiling feature (routes, JWT verifier) whether
 * it can: a setting the loader let through but a feature cannot use becomes a ConfigError with
 * its path, reported like every other problem, and never replaces a running configuration.
 */
function compileRoutes(settings: GatewaySettings): RouteTable {
  const problems = compileProblems(settings)
  if (problems.length > 0) throw new ConfigError(problems)
  return compileRouteTable(settings.routes, { geo: loadGeo(settings.geoip) })
}

function isSettings(config: unknown): config is GatewaySettings {
  return typeof config === 'object' && config !== null && Object.isFrozen(config) && 'server' in config && 'routes' in config
}

/** Plain-HTTP server with the limits that protect an edge listener. */
export function createEdgeServer(server: ServerSettings): ServerFactory {
  return (handler) => {
    const s = http.createServer(
      {
        maxHeaderSize: server.maxHeaderSize,
        headersTimeout: server.headersTimeout,
        requestTimeout: server.requestTimeout,
        keepAliveTimeout: 5_000,
        // Strict parsing is Node's default; say so, since smuggling defences depend on it.
        insecureHTTPParser: false,
        requireHostHeader: true,
        connectionsCheckingInterval: Math.min(1_000, server.headersTimeout),
      },
      handler,
    )
    s.maxConnections = server.maxConnections
    // CONNECT asks for a tunnel to anywhere: a gateway is not a forward proxy.
    refuseConnect(s, CONNECT_REFUSED)
    // Expect: 100-continue is answered only once the request passed its checks (net/expect-continue.ts).
    deferContinue(s, handler)
    return s
  }
}

/** The answer to CONNECT on every listener. */
export const CONNECT_REFUSED = rawErrorResponse(405, 'CONNECT is not supported', 'allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n')

/**
 * What `createGateway` takes: the configuration as a YAML/JSON file would hold it (typed by the
 * schema, so an editor completes and checks it), settings already normalised, or undefined to
 * read `options.configPath`.
 */
export type GatewayInput = GatewayFile | GatewaySettings | undefined

export async function createGateway(config: GatewayInput, options?: GatewayOptions): Promise<Gateway>
/** A configuration of unknown shape (parsed from somewhere): validated, with every problem's path. */
export async function createGateway(config: unknown, options?: GatewayOptions): Promise<Gateway>
export async function createGateway(config: unknown, options: GatewayOptions = {}): Promise<Gateway> {
  const log: Logger = options.logger === false ? pino({ level: 'silent' }) : (options.logger ?? pino({ base: { service: 'switchyard' } }))
  const env = options.env ?? process.env
  const settings = isSettings(config) ? config : config === undefined && options.configPath ? await loadConfigFile(options.configPath, env) : normalizeConfig(config, { env, source: options.configPath })

  const initialRoutes = compileRoutes(settings)
  let pools: ManagedPoolRegistry | undefined
  const metrics = createMetrics(() => pools, { processMetrics: options.processMetrics })
  const events = createEventLog()
  pools = createPoolRegistry(settings.pools, {
    ...(options.sharedInFlight !== undefined ? { sharedInFlight: options.sharedInFlight } : {}),
    logger: log,
    onEvent: (e) => {
      options.onUpstreamEvent?.(e)
      metrics.upstreamEvents.inc({ pool: e.pool, event: e.type })
      recordUpstreamEvent(events, e)
    },
  })
  let trust = compileTrustedProxies(settings.server.trustedProxies)
  let streamAccess: ReturnType<typeof createAnswerRecorder>['access']
  const streams = new StreamManager({ pools, metrics, log, settings: () => state.settings, trust: () => trust, access: () => streamAccess })
  const reloadListeners: ((s: RuntimeState, prev: RuntimeState) => void)[] = []
  const reloadHistory: ReloadRecord[] = [{ at: new Date().toISOString(), ok: true, version: 1 }]

  const handle: GatewayHandle = {
    get state() {
      return state
    },
    metrics,
    log,
    get trust() {
      return trust
    },
    onReload(listener) {
      reloadListeners.push(listener)
    },
  }

  // Built once per gateway; prepared and compiled per route with every configuration.
  const transport = poolTransport
  const shared = options.worker?.sharedRateLimit
  const builtIns = { rateLimitStore: shared !== undefined && settings.rateLimit.store === 'memory' ? sharedMemoryStoreHandle(shared) : createRateLimitStore(settings.rateLimit) }
  const cachePort = options.worker?.cachePort
  // Given only when the process's cache is the main thread's memory store (supervisor.ts).
  const sharedCacheStore = cachePort !== undefined ? new RemoteStore(cachePort) : undefined
  const features: readonly Feature[] = [
    ...builtInFeatures({ settings, metrics, registry: metrics.registry, log, transport, owner: handle, rateLimitStore: builtIns.rateLimitStore, events, ...(sharedCacheStore !== undefined ? { sharedCacheStore } : {}), ...(options.canaryReport !== undefined ? { canaryReport: options.canaryReport } : {}) }),
    ...(options.features ?? []),
  ]
  // Background requests (refreshes, shadow copies) are aborted by this when the gateway closes.
  const shutdown = new EventEmitter()
  shutdown.setMaxListeners(0)
  const baseForward = createForward({ metrics, transport, shutdown })
  const compileFor = async (next: GatewaySettings, routes: RouteTable, current: GatewaySettings | undefined): Promise<{ prepared: PreparedFeatures; pipelines: Pipelines }> => {
    const prepared = await prepareFeatures(features, next, current)
    return { prepared, pipelines: compilePipelines(routes, prepared, baseForward) }
  }
  const initial = await compileFor(settings, initialRoutes, undefined)
  initial.prepared.commit()
  let state: RuntimeState = { version: 1, settings, routes: initialRoutes, pools, pipelines: initial.pipelines }

  let tlsListener: TlsListener | undefined
  // ACME (server.tls.acme): HTTP-01 answered on the plain listener, ahead of redirects and routes.
  const acmeSettings = settings.server.tls?.acme
  const acme = acmeSettings === undefined ? undefined : createAcmeManager(acmeSettings, { log, registry: metrics.registry })
  const plainServer = acme === undefined ? createEdgeServer(settings.server) : withAcmeChallenges(createEdgeServer(settings.server), acme)
  const edge = withHttpsRedirect(plainServer, () => tlsListener?.redirectPort())
  // server.h2c: HTTP/2 with prior knowledge beside HTTP/1.1 (src/net/h2c.ts), after any PROXY header.
  const edgeServer = settings.server.h2c === true ? withH2c(edge, settings.server) : edge
  // PROXY v1/v2 from trustedProxies (an outer layer-4 balancer) names the real client.
  // One recorder for every listener; stream lines go to the same access log, closed after the streams drain.
  const recorder = createAnswerRecorder(handle)
  streamAccess = recorder.access
  const listener = createDataListener({
    handle,
    recorder,
    protocol: 'http',
    factory: (handler) => {
      const server = edgeServer(handler)
      acceptProxyProtocol(server as unknown as NetServer, (address) => trust.isTrusted(address), () => state.settings.server.headersTimeout)
      return server
    },
  })
  let serving = false
  let draining = false
  let closing: Promise<void> | undefined
  // The split each route was compiled with: a different one now is a runtime change
  // (PUT /api/routes/:name/split), carried over by reloads while the route and its pools remain.
  const compiledSplits = new WeakMap<CompiledRoute, SplitSelector>()
  const rememberSplits = (table: RouteTable): void => {
    for (const r of table.routes) compiledSplits.set(r, r.split)
  }
  rememberSplits(initialRoutes)
  // state.file: runtime changes of the last run, applied again where their objects still exist.
  const stateWriter = settings.state === undefined ? undefined : await restoreRuntimeState(settings.state.file, pools, initialRoutes, () => state, compiledSplits, log)
  let url = ''
  let adminUrl: string | undefined

  async function reload(source?: unknown): Promise<ReloadResult> {
    let next: GatewaySettings
    let routes: RouteTable
    let commitTls: (() => void) | undefined
    let compiled: { prepared: PreparedFeatures; pipelines: Pipelines } | undefined
    let controlled: ControlledBackend[] = []
    let preparedStreams: Awaited<ReturnType<StreamManager['prepare']>> | undefined
    try {
      const raw = source ?? (options.loadConfig !== undefined ? await options.loadConfig() : undefined)
      if (raw !== undefined) next = isSettings(raw) ? raw : normalizeConfig(raw, { env, source: options.configPath, ...(options.configPath ? { baseDir: dirname(resolvePath(options.configPath)) } : {}) })
      else if (options.configPath) next = await loadConfigFile(options.configPath, env)
      else throw new ConfigError([{ path: '(gateway)', message: 'no configuration file to reload from' }])
      routes = compileRoutes(next)
      compiled = await compileFor(next, routes, state.settings)
      commitTls = await tlsListener?.prepare(next)
      controlled = controlledBackends(pools!)
      preparedStreams = options.worker === undefined ? await streams.prepare(next) : undefined
      // Last, because it changes live state: it either applies whole or throws having changed nothing.
      pools!.reconcile(next.pools)
    } catch (err) {
      compiled?.prepared.discard()
      await preparedStreams?.discard()
      const listed = (err as { problems?: unknown }).problems
      const problems =
        err instanceof ConfigError
          ? err.lines()
          : Array.isArray(listed)
            ? (listed as { path: string; message: string }[]).map((p) => `${p.path}: ${p.message}`)
            : [`(config): ${(err as Error).message}`]
      metrics.reloads.inc({ result: 'rejected' })
      metrics.lastReloadSuccess.set(0)
      reloadHistory.unshift({ at: new Date().toISOString(), ok: false, version: state.version, problems })
      reloadHistory.length = Math.min(reloadHistory.length, 20)
      log.warn({ type: 'audit', action: 'reload', ok: false, problems }, 'configuration rejected; the running configuration keeps serving')
      events.record('reload', { ok: false, version: state.version, problems })
      return { ok: false, problems }
    }
    const prev = state
    warnOnListenerChanges(prev.settings, next, log)
    rememberSplits(routes)
    const runtime = carryRuntimeSplits(prev.routes, routes, compiledSplits)
    runtime.dropped.push(...droppedBackendControls(controlled, pools!))
    state = { version: prev.version + 1, settings: next, routes, pools: pools!, pipelines: compiled!.pipelines }
    compiled!.prepared.commit()
    commitTls?.()
    preparedStreams?.commit()
    trust = compileTrustedProxies(next.server.trustedProxies)
    for (const l of reloadListeners) l(state, prev)
    // Runtime changes the reload dropped are dropped from state.file too.
    stateWriter?.changed()
    // Series of removed routes, pools and backends go with them (bounded cardinality under churn).
    void pruneRemovedSeries(metrics.registry, prev.settings, next).catch((err: unknown) => log.warn({ err }, 'could not prune metric series after reload'))
    metrics.reloads.inc({ result: 'applied' })
    metrics.lastReloadSuccess.set(1)
    reloadHistory.unshift({ at: new Date().toISOString(), ok: true, version: state.version })
    reloadHistory.length = Math.min(reloadHistory.length, 20)
    const kept = runtime.kept.length > 0 ? { runtimeKept: runtime.kept } : {}
    if (runtime.dropped.length > 0) {
      log.warn({ type: 'audit', action: 'reload', ok: true, version: state.version, ...kept, runtimeDropped: runtime.dropped }, 'configuration reloaded; some runtime changes no longer apply and were dropped')
    } else log.info({ type: 'audit', action: 'reload', ok: true, version: state.version, ...kept }, 'configuration reloaded')
    events.record('reload', { ok: true, version: state.version, ...kept, ...(runtime.dropped.length > 0 ? { runtimeDropped: runtime.dropped } : {}) })
    return { ok: true, version: state.version }
  }

  const runtimeListeners = new Set<(action: string, detail: Record<string, unknown>) => void>()
  const dependencies = new Map<string, () => Promise<DependencyStatus>>()
  const rateLimitStore = builtIns.rateLimitStore
  if (rateLimitStore.kind === 'redis') dependencies.set('redis', () => pingRedis(rateLimitStore.redis))

  const gateway: Gateway = {
    ...(options.metricsText !== undefined ? { metricsText: options.metricsText } : {}),
    ...(options.processSeries !== undefined ? { processSeries: options.processSeries } : {}),
    async workers() {
      if (options.workers !== undefined) return options.workers()
      return [await threadView(0, 0, metrics)]
    },
    runtimeSnapshot() {
      return takeRuntimeSnapshot(state.routes, compiledSplits, pools!)
    },
    applyRuntime(snapshot, from) {
      const skipped = applyRuntimeSnapshot(snapshot, state.routes, compiledSplits, pools!)
      log.info({ type: 'audit', action: 'runtime.apply', from, splits: snapshot.splits, backends: snapshot.backends, ...(skipped.length > 0 ? { skipped } : {}) }, 'runtime changes applied from another instance')
      events.record('runtime.apply', { from, ...(skipped.length > 0 ? { skipped } : {}) })
      stateWriter?.changed()
      return skipped
    },
    runtimeChanged(action, detail) {
      stateWriter?.changed()
      for (const l of runtimeListeners) l(action, detail)
    },
    onRuntimeChange(listener) {
      runtimeListeners.add(listener)
      return () => runtimeListeners.delete(listener)
    },
    addDependency(name, probe) {
      dependencies.set(name, probe)
    },
    async deepHealth() {
      const checks: Record<string, DependencyStatus> = { pools: poolsHealth(pools!) }
      const asked = await Promise.all([...dependencies].map(async ([name, probe]) => [name, await probe().catch((err: Error) => ({ ok: false, error: err.message }))] as const))
      for (const [name, status] of asked) checks[name] = status
      return { ok: Object.values(checks).every((c) => c.ok), checks }
    },
    get state() {
      return state
    },
    get settings() {
      return state.settings
    },
    listener,
    handle,
    admin: undefined,
    metrics,
    pools,
    streams,
    log,
    get url() {
      return url
    },
    get adminUrl() {
      return adminUrl
    },
    get httpsUrl() {
      return tlsListener?.url
    },
    acme,
    get certificates() {
      const acmeCert = acmeSettings === undefined ? undefined : acmeCertificateFiles(acmeSettings).cert
      return (tlsListener?.certificates.certificates ?? []).map((c) => ({
        file: c.certFile,
        subject: c.subject,
        serverNames: c.serverNames,
        validTo: c.validTo.toISOString(),
        acme: c.certFile === acmeCert,
      }))
    },
    get serving() {
      return serving
    },
    get ready() {
      return serving && !draining
    },
    get draining() {
      return draining
    },
    drain(reason: string) {
      if (draining) return false
      draining = true
      log.info({ reason }, 'draining: GET /ready answers 503 from now on')
      events.record('drain', { reason })
      return true
    },
    events,
    get reloadHistory() {
      return reloadHistory
    },
    async listen() {
      const s = state.settings
      try {
        for (const f of features) await f.start?.()
        const tls = options.dataPlane === false ? undefined : s.server.tls
        const reusePort = options.worker !== undefined
        const plainListen = (): Promise<void> =>
          // SO_REUSEPORT: every worker thread binds the same port; the kernel spreads connections.
          listener.listen(s.server.host, s.server.port, reusePort)
        let plainBound = false
        if (tls && acme !== undefined && !(await acme.hasUsableCertificate())) {
          // No certificate yet: the plain listener must answer the CA's HTTP-01 request first.
          try {
            await plainListen()
          } catch (err) {
            throw ListenError.from(err, 'http', s.server.host, s.server.port)
          }
          plainBound = true
          try {
            await acme.renewNow()
          } catch (err) {
            throw new ConfigError([{ path: 'server.tls.acme', message: `no certificate could be obtained: ${(err as Error).message}` }])
          }
        }
        if (tls) {
          try {
            tlsListener = await startTlsListener({ handle, reusePort, build: (factory, enrich) => createDataListener({ handle, recorder, protocol: 'https', factory, enrich }) })
          } catch (err) {
            throw ListenError.from(err, 'tls', s.server.host, tls.port)
          }
        }
        if (options.dataPlane !== false) {
          if (!plainBound) {
            try {
              await plainListen()
            } catch (err) {
              throw ListenError.from(err, 'http', s.server.host, s.server.port)
            }
          }
          url = urlOf(listener.server.address() as AddressInfo, 'http')
        }
        if (acme !== undefined) {
          acme.onCertificate(() => tlsListener?.refresh())
          acme.start()
        }
        if (gateway.admin) {
          const a = s.admin as Exclude<typeof s.admin, false>
          try {
            await gateway.admin.listen({ host: a.host, port: a.port })
          } catch (err) {
            throw ListenError.from(err, 'admin', a.host, a.port)
          }
          adminUrl = urlOf(gateway.admin.server.address() as AddressInfo, 'http')
        }
        // With worker threads, the main thread alone serves the streams (one listener per address).
        if (options.worker === undefined) await streams.start(s.streams)
      } catch (err) {
        // Nothing half-started stays behind: a listener that bound is closed again, so the
        // process can exit instead of serving without its admin (or its TLS) listener.
        closing ??= (async () => {
          await Promise.allSettled([listener.close(), tlsListener?.close(), gateway.admin?.close(), streams.close(0)])
          await recorder.close()
          for (const f of [...features].reverse()) await Promise.resolve(f.close?.()).catch(() => {})
          await pools!.close()
        })()
        await closing
        throw err
      }
      // A worker's backends get their health verdicts from the main thread's one checker.
      if (options.worker === undefined) pools!.start()
      serving = true
      const streamAddresses = streams.snapshot().map((x) => `${x.name} ${x.protocol}://${x.listen.host.includes(':') ? `[${x.listen.host}]` : x.listen.host}:${x.listen.port}`)
      const streamField = streamAddresses.length > 0 ? { streams: streamAddresses } : {}
      if (options.dataPlane === false) log.info({ adminUrl, ...streamField, node: process.version }, 'main thread ready: admin and health checks (worker threads serve the data listeners)')
      else log.info({ url, httpsUrl: tlsListener?.url, adminUrl, ...streamField, node: process.version }, 'switchyard listening')
    },
    reload,
    close() {
      return (closing ??= (async () => {
        gateway.drain('shutdown')
        // Unready first, still serving: outer balancers (Kubernetes endpoints, a VIP's health
        // check) need this long to stop sending before the listeners close.
        const delay = state.settings.server.shutdownDelay
        if (serving && delay > 0 && options.worker === undefined) {
          log.info({ shutdownDelay: delay }, 'unready; closing the listeners after shutdownDelay')
          await new Promise((resolve) => setTimeout(resolve, delay))
        }
        serving = false
        shutdown.emit('close')
        const timeout = state.settings.server.shutdownTimeout
        const timer = setTimeout(() => {
          log.warn({ shutdownTimeout: timeout }, 'shutdown timeout reached; closing remaining connections')
          listener.server.closeAllConnections?.()
          tlsListener?.listener.server.closeAllConnections?.()
        }, timeout)
        timer.unref()
        // A keep-alive connection whose last response ends during the drain would otherwise stay
        // open until its keep-alive timeout: sweep idle connections while draining.
        const sweep = setInterval(() => listener.server.closeIdleConnections?.(), 100)
        sweep.unref()
        try {
          await Promise.all([listener.close(), tlsListener?.close(), streams.close(timeout)])
        } finally {
          clearTimeout(timer)
          clearInterval(sweep)
        }
        await recorder.close()
        if (gateway.admin) await gateway.admin.close()
        for (const f of [...features].reverse()) await f.close?.()
        acme?.close()
        await pools!.close()
        await stateWriter?.flush()
      })())
    },
  }
  if (settings.admin !== false) (gateway as { admin: FastifyInstance | undefined }).admin = await buildAdmin(gateway)
  return gateway
}

/** A runtime change a reload could not keep: what, and why. */
export interface DroppedRuntimeChange {
  readonly kind: 'route.split' | 'backend'
  readonly route?: string
  readonly pool?: string
  readonly backend?: string
  readonly reason: string
}

/**
 * Runtime split weights survive a reload while the route and every pool they name remain in its
 * new split (pools new to the split keep the file's weight) and the file left that split's
 * weights as they were; otherwise they are reported dropped (the file wins).
 */
function carryRuntimeSplits(
  prev: RouteTable,
  next: RouteTable,
  compiled: WeakMap<CompiledRoute, SplitSelector>,
): { kept: { route: string; split: { pool: string; weight: number }[] }[]; dropped: DroppedRuntimeChange[] } {
  const kept: { route: string; split: { pool: string; weight: number }[] }[] = []
  const dropped: DroppedRuntimeChange[] = []
  for (const r of prev.routes) {
    if (r.split === compiled.get(r)) continue
    const n = next.get(r.name)
    if (n === undefined) {
      dropped.push({ kind: 'route.split', route: r.name, reason: 'the route is no longer configured' })
      continue
    }
    // The file is the operator's word too: where it changed this split's weights since the
    // last load, the file wins over the runtime change it was meant to replace.
    const fileBefore = compiled.get(r)
    if (fileBefore !== undefined && !sameWeights(fileBefore, n.split)) {
      dropped.push({ kind: 'route.split', route: r.name, reason: "the file changed the split's weights" })
      continue
    }
    const pools = new Set(n.split.targets.map((t) => t.pool))
    const missing = r.split.targets.filter((t) => !pools.has(t.pool)).map((t) => t.pool)
    if (missing.length > 0) {
      dropped.push({ kind: 'route.split', route: r.name, reason: `pools no longer in the split: ${missing.join(', ')}` })
      continue
    }
    try {
      n.split = withWeights(n.split, Object.fromEntries(r.split.targets.map((t) => [t.pool, t.weight])))
      kept.push({ route: r.name, split: n.split.targets.map((t) => ({ pool: t.pool, weight: t.weight })) })
    } catch (err) {
      dropped.push({ kind: 'route.split', route: r.name, reason: (err as Error).message })
    }
  }
  return { kept, dropped }
}

/** The pools' part of the deep health check: each pool has a backend that may take traffic. */
function poolsHealth(pools: PoolRegistry): DependencyStatus {
  const out: Record<string, { available: number; total: number }> = {}
  let ok = true
  for (const p of pools.all()) {
    const available = p.backends.filter((b) => b.healthy && b.breaker.state !== 'open' && b.state !== 'disabled').length
    out[p.name] = { available, total: p.backends.length }
    if (available === 0) ok = false
  }
  return { ok, pools: out }
}

/** PING over an ioredis client (typed loosely: the core names no client library), bounded by 1 s. */
async function pingRedis(client: unknown): Promise<DependencyStatus> {
  const redis = client as { status?: string; ping?: () => Promise<string> }
  if (redis.status !== 'ready' || redis.ping === undefined) return { ok: false, status: redis.status ?? 'unknown' }
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([redis.ping(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('PING timed out after 1s')), 1000)))])
    return { ok: true, latencyMs: Math.round((performance.now() - started) * 100) / 100 }
  } finally {
    clearTimeout(timer)
  }
}

/** Reads and applies `file` (logging what was applied and dropped); the writer for later changes. */
async function restoreRuntimeState(
  file: string,
  pools: ManagedPoolRegistry,
  routes: RouteTable,
  current: () => RuntimeState,
  compiledSplits: WeakMap<CompiledRoute, SplitSelector>,
  log: Logger,
): Promise<ReturnType<typeof createStateWriter>> {
  let stale = false
  try {
    const saved = await readStateFile(file)
    if (saved !== undefined) {
      const skipped = applyRuntimeSnapshot(saved, routes, compiledSplits, pools)
      const restored = { type: 'audit', action: 'state.restore', file, splits: saved.splits, backends: saved.backends }
      if (skipped.length > 0) {
        log.warn({ ...restored, skipped }, 'runtime state restored; some changes no longer apply and were dropped')
        stale = true
      } else log.info(restored, 'runtime state restored')
    }
  } catch (err) {
    log.warn({ err, file }, 'state.file unreadable; starting from the configuration alone')
  }
  const writer = createStateWriter(file, () => takeRuntimeSnapshot(current().routes, compiledSplits, pools), log)
  // Dropped changes leave the file too.
  if (stale) writer.changed()
  return writer
}

function sameWeights(a: SplitSelector, b: SplitSelector): boolean {
  if (a.targets.length !== b.targets.length) return false
  return a.targets.every((t, i) => t.pool === b.targets[i]!.pool && t.weight === b.targets[i]!.weight)
}

interface ControlledBackend {
  readonly pool: string
  readonly backend: string
}

/** Backends with a runtime state or weight override (taken before a reconcile). */
function controlledBackends(pools: PoolRegistry): ControlledBackend[] {
  const out: ControlledBackend[] = []
  for (const p of pools.all()) for (const b of p.backends) if (b.state !== 'enabled' || b.weightOverride !== undefined) out.push({ pool: p.name, backend: b.origin })
  return out
}

/** Those whose runtime state or weight override ended because the reload removed them. */
function droppedBackendControls(before: readonly ControlledBackend[], after: PoolRegistry): DroppedRuntimeChange[] {
  return before
    .filter((c) => !(after.get(c.pool)?.backends.some((x) => x.origin === c.backend) ?? false))
    .map((c) => ({ kind: 'backend' as const, pool: c.pool, backend: c.backend, reason: 'the backend is no longer configured' }))
}

function urlOf(addr: AddressInfo, scheme: 'http' | 'https'): string {
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${addr.port}`
}

function warnOnListenerChanges(prev: GatewaySettings, next: GatewaySettings, log: Logger): void {
  const a = prev.server
  const b = next.server
  if (
    a.host !== b.host ||
    a.port !== b.port ||
    a.workers !== b.workers ||
    JSON.stringify(prev.admin) !== JSON.stringify(next.admin) ||
    (a.tls === undefined) !== (b.tls === undefined) ||
    (a.h2c === true) !== (b.h2c === true)
  ) {
    log.warn('listeners changed (server.host/port, server.workers, server.h2c, admin, or server.tls added/removed): they apply after a restart')
  }
}
