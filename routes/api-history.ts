/**
 * `GET /api/stats/history`: the last 15 minutes of the dashboard's charts (src/stats/history.ts),
 * sampled from the gateway's Prometheus series every `historySettings.intervalMs` by a timer the
 * admin listener owns (unref'd, stopped when it closes).
 *
 * `GET /api/events?limit=N`: recent events, newest first (health and circuit transitions,
 * reloads, weight and backend-state changes), `[{ time, type, detail }]` (SPEC §5).
 */
import type { FastifyPluginAsync } from 'fastify'
import type { EventLog } from '../src/events.js'
import { createHistory } from '../src/stats/history.js'
import type { Snapshot } from '../src/stats/window.js'
import type { AdminContext, AdminFeature, AdminPort } from './admin-port.js'

/** Sampling period and span; tests shorten the period before starting a gateway. */
export const historySettings = { intervalMs: 5_000, spanMs: 15 * 60_000 }

interface MetricValue {
  readonly value: number
  readonly labels: Readonly<Record<string, string | number>>
  readonly metricName?: string
}

const CACHE_HITS = new Set(['hit', 'stale-while-revalidate', 'stale-if-error', 'revalidated'])

function add(map: Map<string, number>, key: string, v: number): void {
  map.set(key, (map.get(key) ?? 0) + v)
}

async function valuesOf(gateway: AdminPort, name: string): Promise<readonly MetricValue[]> {
  const metric = gateway.metrics.registry.getSingleMetric(name)
  return metric === undefined ? [] : ((await metric.get()).values as readonly MetricValue[])
}

/** One cumulative snapshot of what the charts plot. */
export async function historySnapshot(gateway: AdminPort, at = Date.now()): Promise<Snapshot> {
  const counters = new Map<string, number>()
  const histograms = new Map<string, Map<number, number>>()
  const [requests, duration, cache, errors] = await Promise.all([
    gateway.metrics.requests.get(),
    gateway.metrics.duration.get(),
    valuesOf(gateway, 'switchyard_cache_requests_total'),
    valuesOf(gateway, 'switchyard_errors_total'),
  ])
  for (const { value, labels } of requests.values) {
    const cls = String(labels.status ?? '')[0]
    for (const key of ['all', `route|${labels.route}`, `pool|${labels.pool}`]) {
      add(counters, `${key}|total`, value)
      if (cls === '4') add(counters, `${key}|4xx`, value)
      else if (cls === '5') add(counters, `${key}|5xx`, value)
    }
  }
  for (const v of duration.values as readonly MetricValue[]) {
    if (!v.metricName?.endsWith('_bucket')) continue
    const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le)
    for (const key of ['all', `route|${v.labels.route}`, `pool|${v.labels.pool}`]) {
      let b = histograms.get(key)
      if (b === undefined) histograms.set(key, (b = new Map()))
      b.set(le, (b.get(le) ?? 0) + v.value)
    }
  }
  for (const { value, labels } of cache) {
    if (labels.result === 'bypass') continue
    add(counters, 'cache|total', value)
    if (CACHE_HITS.has(String(labels.result))) add(counters, 'cache|hit', value)
  }
  for (const { value, labels } of errors) {
    const code = String(labels.code)
    if (code === 'SWITCHYARD_RATE_LIMITED') add(counters, 'refused|ratelimit', value)
    else if (code.startsWith('SWITCHYARD_JWT_')) add(counters, 'refused|jwt', value)
  }
  return { at, counters, histograms }
}

const plugin: FastifyPluginAsync<{ ctx: AdminContext }> = async (app, { ctx }) => {
  const intervalMs = historySettings.intervalMs
  const history = createHistory(Math.ceil(historySettings.spanMs / intervalMs))
  let sampling = false
  const sample = (): void => {
    if (sampling) return
    sampling = true
    historySnapshot(ctx.gateway).then(
      (s) => history.push(s),
      (err: unknown) => ctx.gateway.log.warn({ err }, 'stats history: sampling failed'),
    ).finally(() => (sampling = false))
  }
  sample()
  const timer = setInterval(sample, intervalMs)
  timer.unref()
  app.addHook('onClose', async () => clearInterval(timer))

  app.get('/api/stats/history', async () => ({ intervalSeconds: intervalMs / 1000, points: history.points() }))

  app.get<{ Querystring: { limit?: string } }>('/api/events', async (request) => {
    // The gateway's event log (src/events.ts); an embedder's gateway without one has no events.
    const events = (ctx.gateway as AdminPort & { readonly events?: EventLog }).events
    const limit = Math.min(500, Math.max(1, Number(request.query.limit) || 100))
    return events?.list(limit) ?? []
  })
}

export const historyAdminFeature: AdminFeature = { name: 'history', plugin }
