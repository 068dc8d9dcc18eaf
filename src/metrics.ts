/**
 * Prometheus metrics of one gateway. Each gateway owns its Registry (embedding several gateways
 * in one process, as tests do, must not mix their series). Label values are bounded: route and
 * pool names, backend origins, status codes; never raw paths.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { PoolRegistry } from './upstream/types.js'
import { packageVersion } from './package-root.js'
import { FastCounter, FastHistogram } from './metrics/fast-series.js'

const CIRCUIT_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const

/** Latency buckets (seconds) shared by every duration histogram, so they can be compared. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

const featureMetrics = new WeakMap<Registry, Map<string, unknown>>()

/**
 * A feature's series on a registry, created on first use and shared afterwards. Data-plane
 * plugins run once per listener (plain and TLS), and prom-client refuses a second metric of the
 * same name on one registry.
 */
export function metricsOnce<T>(registry: Registry, feature: string, create: () => T): T {
  let byFeature = featureMetrics.get(registry)
  if (byFeature === undefined) featureMetrics.set(registry, (byFeature = new Map()))
  let m = byFeature.get(feature) as T | undefined
  if (m === undefined) byFeature.set(feature, (m = create()))
  return m
}

export interface GatewayMetrics {
  readonly registry: Registry
  /**
   * Every answer the gateway gave, including refusals before any route is known (route and pool `-`).
   * This and the other series updated on every request (duration, request and response bytes,
   * upstreamDuration) are pre-bound series (src/metrics/fast-series.ts) with prom-client's exposition.
   */
  readonly requests: FastCounter<'route' | 'pool' | 'status' | 'method'>
  /** By route, serving pool and status class (2xx, 4xx, ...): RED per route and per pool. */
  readonly duration: FastHistogram<'route' | 'pool' | 'class'>
  /** Bytes on the client connection (request line, headers and body), by route. */
  readonly requestBytes: FastCounter<'route'>
  /** Bytes written to the client (status line, headers and body), by route. */
  readonly responseBytes: FastCounter<'route'>
  /** The gateway's own error answers, by code (SWITCHYARD_*): what clients can branch on. */
  readonly errors: Counter<'code'>
  /** Client connections accepted, by listener (http, https). */
  readonly connections: Counter<'listener'>
  /** Client connections open now, by listener. */
  readonly openConnections: Gauge<'listener'>
  /** WebSocket tunnels open now, by route. */
  readonly websocketActive: Gauge<'route'>
  /** WebSocket tunnels opened (101 sent), by route and serving pool. */
  readonly websocketSessions: Counter<'route' | 'pool'>
  /** How long tunnels stayed open, by route. */
  readonly websocketDuration: Histogram<'route'>
  readonly upstreamDuration: FastHistogram<'pool'>
  readonly inFlight: Gauge
  readonly retries: Counter<'pool'>
  readonly fallbacks: Counter<'route' | 'from' | 'to'>
  /** Requests sent to a pool's backends although none was available (last resort, panic). */
  readonly poolPanic: Counter<'pool'>
  readonly upstreamErrors: Counter<'pool' | 'kind'>
  readonly cacheRequests: Counter<'route' | 'result'>
  readonly rateLimitRejected: Counter<'route'>
  readonly reloads: Counter<'result'>
  readonly lastReloadSuccess: Gauge
  readonly upstreamEvents: Counter<'pool' | 'event'>
}

/** Create the registry; `getPools` is read at scrape time for backend and circuit gauges. */
export function createMetrics(getPools: () => PoolRegistry | undefined, opts: { processMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry()
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry })

  const requests = new FastCounter({
    name: 'switchyard_requests_total',
    help: 'Requests answered, by route, serving pool, status code and method (route and pool "-" when refused before a route was known)',
    labelNames: ['route', 'pool', 'status', 'method'] as const,
    registers: [registry],
  })
  const duration = new FastHistogram({
    name: 'switchyard_request_duration_seconds',
    help: 'Time from request arrival to response end, by route, serving pool and status class',
    labelNames: ['route', 'pool', 'class'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  })
  const upstreamDuration = new FastHistogram({
    name: 'switchyard_upstream_duration_seconds',
    help: 'Time to upstream response headers, by serving pool',
    labelNames: ['pool'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  })
  const inFlight = new Gauge({ name: 'switchyard_requests_in_flight', help: 'Requests being served now', registers: [registry] })
  const retries = new Counter({ name: 'switchyard_retries_total', help: 'Extra attempts on another backend', labelNames: ['pool'] as const, registers: [registry] })
  const fallbacks = new Counter({
    name: 'switchyard_fallback_total',
    help: 'Requests degraded from a pool to its fallback',
    labelNames: ['route', 'from', 'to'] as const,
    registers: [registry],
  })
  const poolPanic = new Counter({
    name: 'switchyard_pool_panic_total',
    help: 'Requests sent to a pool\'s backends with health and circuit ignored, because nothing in the pool or its fallback chain was available (last resort) or too little was (panicThreshold)',
    labelNames: ['pool'] as const,
    registers: [registry],
  })
  const upstreamErrors = new Counter({
    name: 'switchyard_upstream_errors_total',
    help: 'Failed upstream attempts, by pool and kind (connect-error, reset, timeout, status, tls, overflow)',
    labelNames: ['pool', 'kind'] as const,
    registers: [registry],
  })
  const cacheRequests = new Counter({
    name: 'switchyard_cache_requests_total',
    help: 'Requests on cached routes, by result (hit, miss, stale, revalidated, bypass, ...)',
    labelNames: ['route', 'result'] as const,
    registers: [registry],
  })
  const rateLimitRejected = new Counter({
    name: 'switchyard_ratelimit_rejected_total',
    help: 'Requests refused with 429, by route',
    labelNames: ['route'] as const,
    registers: [registry],
  })
  const reloads = new Counter({ name: 'switchyard_config_reloads_total', help: 'Configuration reloads, by result', labelNames: ['result'] as const, registers: [registry] })
  const lastReloadSuccess = new Gauge({
    name: 'switchyard_config_last_reload_success',
    help: '1 when the last reload succeeded, 0 when it was rejected',
    registers: [registry],
  })
  lastReloadSuccess.set(1)
  new Gauge({
    name: 'switchyard_build_info',
    help: 'Always 1; the labels say which Switchyard and which Node are running',
    labelNames: ['version', 'node'] as const,
    registers: [registry],
  }).set({ version: packageVersion, node: process.version }, 1)
  const requestBytes = new FastCounter({
    name: 'switchyard_request_bytes_total',
    help: 'Bytes received from clients (request line, headers and body), by route',
    labelNames: ['route'] as const,
    registers: [registry],
  })
  const responseBytes = new FastCounter({
    name: 'switchyard_response_bytes_total',
    help: 'Bytes sent to clients (status line, headers and body), by route',
    labelNames: ['route'] as const,
    registers: [registry],
  })
  const errors = new Counter({
    name: 'switchyard_errors_total',
    help: 'Error answers the gateway itself gave, by code (SWITCHYARD_*, as in the JSON body); upstream answers are not counted',
    labelNames: ['code'] as const,
    registers: [registry],
  })
  const connections = new Counter({
    name: 'switchyard_client_connections_total',
    help: 'Client connections accepted, by listener (http, https)',
    labelNames: ['listener'] as const,
    registers: [registry],
  })
  const openConnections = new Gauge({
    name: 'switchyard_client_connections',
    help: 'Client connections open now, by listener (http, https)',
    labelNames: ['listener'] as const,
    registers: [registry],
  })
  const websocketActive = new Gauge({
    name: 'switchyard_websocket_sessions',
    help: 'WebSocket tunnels open now, by route',
    labelNames: ['route'] as const,
    registers: [registry],
  })
  const websocketSessions = new Counter({
    name: 'switchyard_websocket_sessions_total',
    help: 'WebSocket tunnels opened (101 relayed), by route and serving pool',
    labelNames: ['route', 'pool'] as const,
    registers: [registry],
  })
  const websocketDuration = new Histogram({
    name: 'switchyard_websocket_session_duration_seconds',
    help: 'How long WebSocket tunnels stayed open, by route',
    labelNames: ['route'] as const,
    buckets: [1, 5, 15, 60, 300, 900, 3600, 14400, 86400],
    registers: [registry],
  })
  const upstreamEvents = new Counter({
    name: 'switchyard_upstream_events_total',
    help: 'Health and breaker transitions, ejections and ejection-cap refusals, by pool',
    labelNames: ['pool', 'event'] as const,
    registers: [registry],
  })

  new Gauge({
    name: 'switchyard_backend_up',
    help: '1 when the backend is available (healthy and circuit not open)',
    labelNames: ['pool', 'backend'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const pool of getPools()?.all() ?? []) {
        for (const b of pool.backends) this.set({ pool: pool.name, backend: b.origin }, b.isAvailable() ? 1 : 0)
      }
    },
  })
  new Gauge({
    name: 'switchyard_circuit_state',
    help: 'Circuit breaker state per backend: 0 closed, 1 half-open, 2 open',
    labelNames: ['pool', 'backend'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const pool of getPools()?.all() ?? []) {
        for (const b of pool.backends) this.set({ pool: pool.name, backend: b.origin }, CIRCUIT_VALUE[b.breaker.state])
      }
    },
  })
  new Gauge({
    name: 'switchyard_backend_active_requests',
    help: 'Requests in flight per backend',
    labelNames: ['pool', 'backend'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const pool of getPools()?.all() ?? []) {
        for (const b of pool.backends) this.set({ pool: pool.name, backend: b.origin }, b.activeRequests)
      }
    },
  })

  return {
    registry,
    requests,
    duration,
    upstreamDuration,
    inFlight,
    retries,
    fallbacks,
    poolPanic,
    upstreamErrors,
    cacheRequests,
    rateLimitRejected,
    reloads,
    lastReloadSuccess,
    upstreamEvents,
    requestBytes,
    responseBytes,
    errors,
    connections,
    openConnections,
    websocketActive,
    websocketSessions,
    websocketDuration,
  }
}
