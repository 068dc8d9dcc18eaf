/**
 * `GET /api/stats`: one JSON document with everything the dashboard shows, rates included.
 * Routes with their splits, pools with their backends (health, circuit, in flight) and, over
 * the last `WINDOW_MS`, request rate, error rate (share of 5xx answers) and p99 latency per
 * route, pool and backend, plus the last reloads.
 *
 * Rates come from the gateway's own Prometheus counters (see src/stats/window.ts), so the
 * dashboard and a Prometheus server never disagree about what happened. The first call has no
 * earlier snapshot: its rates are null.
 */
import type { FastifyPluginAsync } from 'fastify'
import { increase, quantile, rate, SnapshotWindow, type Snapshot } from '../src/stats/window.js'
import { backendMetrics, type BackendMetrics } from '../src/data-plane/backend-metrics.js'
import type { AdminContext, AdminFeature, AdminPort } from './admin-port.js'
import { routeView } from './api-routes.js'

export const WINDOW_MS = 10_000

interface HistogramValue {
  readonly value: number
  readonly labels: Readonly<Record<string, string | number>>
  readonly metricName?: string
}

function add(map: Map<string, number>, key: string, v: number): void {
  map.set(key, (map.get(key) ?? 0) + v)
}

function addBucket(map: Map<string, Map<number, number>>, key: string, le: number, v: number): void {
  let b = map.get(key)
  if (b === undefined) map.set(key, (b = new Map()))
  b.set(le, (b.get(le) ?? 0) + v)
}

function isError(status: string | number | undefined): boolean {
  return Number(status) >= 500
}

/** Reads the counters and histograms the stats need, into one snapshot. */
export async function takeSnapshot(gateway: Pick<AdminPort, 'metrics' | 'processSeries'>, bm: BackendMetrics, at = Date.now()): Promise<Snapshot> {
  const counters = new Map<string, number>()
  const histograms = new Map<string, Map<number, number>>()
  type Series = { values: { value: number; labels: Record<string, string | number | undefined>; metricName?: string }[] }
  // With worker threads the traffic is counted in the workers: read the process-wide series.
  const all = gateway.processSeries !== undefined ? await gateway.processSeries() : undefined
  const named = (name: string, local: () => Promise<unknown>): Promise<Series> =>
    (all !== undefined ? Promise.resolve(all.find((m) => m.name === name) ?? { values: [] }) : local()) as Promise<Series>
  const [requests, duration, responses, backendDuration] = await Promise.all([
    named('switchyard_requests_total', () => gateway.metrics.requests.get()),
    named('switchyard_request_duration_seconds', () => gateway.metrics.duration.get()),
    named('switchyard_backend_responses_total', () => bm.responses.get()),
    named('switchyard_backend_response_seconds', () => bm.duration.get()),
  ])
  for (const { value, labels } of requests.values) {
    const err = isError(labels.status) ? value : 0
    for (const key of ['all', `route|${labels.route}`, `pool|${labels.pool}`]) {
      add(counters, `${key}|total`, value)
      add(counters, `${key}|err`, err)
    }
  }
  for (const { value, labels } of responses.values) {
    const key = `backend|${labels.pool}|${labels.backend}`
    add(counters, `${key}|total`, value)
    if (labels.class === '5xx') add(counters, `${key}|err`, value)
  }
  for (const v of duration.values as readonly HistogramValue[]) {
    if (!v.metricName?.endsWith('_bucket')) continue
    const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le)
    addBucket(histograms, `route|${v.labels.route}`, le, v.value)
    addBucket(histograms, 'all', le, v.value)
  }
  for (const v of backendDuration.values as readonly HistogramValue[]) {
    if (!v.metricName?.endsWith('_bucket')) continue
    const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le)
    addBucket(histograms, `backend|${v.labels.pool}|${v.labels.backend}`, le, v.value)
    addBucket(histograms, `pool|${v.labels.pool}`, le, v.value)
  }
  return { at, counters, histograms }
}

function round(v: number | null, digits: number): number | null {
  if (v === null) return null
  const f = 10 ** digits
  return Math.round(v * f) / f
}

/** Rates of one series family member: requests/s, share of 5xx, p99 seconds. */
function rates(now: Snapshot, base: Snapshot | undefined, key: string): { requestRate: number | null; errorRate: number | null; p99: number | null } {
  const total = increase(now, base, `${key}|total`)
  const errors = increase(now, base, `${key}|err`)
  return {
    requestRate: round(rate(now, base, `${key}|total`), 2),
    errorRate: total === null || total === 0 ? null : round((errors ?? 0) / total, 4),
    p99: round(quantile(now, base, key, 0.99), 6),
  }
}

export interface StatsSource {
  stats(): Promise<unknown>
}

/** The stats of one gateway; keeps the snapshot window between calls. */
export function createStats(gateway: AdminPort): StatsSource {
  const window = new SnapshotWindow(WINDOW_MS)
  const bm = backendMetrics(gateway.metrics.registry, () => gateway.state.pools)
  return {
    async stats() {
      const now = await takeSnapshot(gateway, bm)
      const base = window.push(now)
      const state = gateway.state
      // Requests held by backends now, from the pool layer's own leases (exact by construction).
      let inFlight = 0
      for (const p of state.pools.all()) for (const b of p.backends) inFlight += b.activeRequests
      return {
        at: new Date(now.at).toISOString(),
        windowSeconds: base === undefined ? null : round((now.at - base.at) / 1000, 2),
        version: state.version,
        serving: gateway.serving,
        totals: { ...rates(now, base, 'all'), inFlight },
        // Requests no route matched (404, and refusals before routing), as their own row.
        unmatched: rates(now, base, 'route|-'),
        routes: state.routes.routes.map((r) => ({ ...routeView(r), ...rates(now, base, `route|${r.name}`) })),
        pools: state.pools.all().map((p) => ({
          name: p.name,
          algorithm: p.algorithm,
          fallback: p.fallback ?? null,
          healthCheck: p.settings.healthCheck !== undefined,
          ...rates(now, base, `pool|${p.name}`),
          backends: p.backends.map((b) => ({
            url: b.origin,
            weight: b.weight,
            healthy: b.healthy,
            circuit: b.breaker.state,
            available: b.isAvailable(),
            activeRequests: b.activeRequests,
            state: b.state,
            lastProbe: b.lastProbe ?? null,
            ...rates(now, base, `backend|${p.name}|${b.origin}`),
          })),
        })),
        reloads: gateway.reloadHistory.slice(0, 10),
        // Layer-4 listeners as GET /api/streams shows them (the dashboard's Streams panel).
        streams: gateway.streams.snapshot(),
        certificates: gateway.certificates ?? [],
      }
    },
  }
}

const plugin: FastifyPluginAsync<{ ctx: AdminContext }> = async (app, { ctx }) => {
  const source = createStats(ctx.gateway)
  app.get('/api/stats', async () => source.stats())
}

export const statsAdminFeature: AdminFeature = { name: 'stats', plugin }
