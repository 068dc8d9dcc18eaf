/**
 * Per-backend request series, for operators (and the dashboard) to see which server of a pool
 * answers, how often it fails and how fast it is. Recorded once per request when the response
 * has ended, from what the proxy wrote into the request context (the backend that served, or
 * the last one tried when every attempt failed).
 *
 * Metrics (on the gateway's registry; label values are pool names and backend origins, bounded
 * by configuration):
 *   switchyard_backend_responses_total{pool,backend,class}   class: 1xx..5xx
 *   switchyard_backend_response_seconds{pool,backend}        time to the upstream's response headers
 *   switchyard_backend_healthy{pool,backend}                 active health-check verdict (1 up, 0 down)
 */
import { LATENCY_BUCKETS, metricsOnce } from '../metrics.js'
import { Gauge, type Registry } from 'prom-client'
import { ChildCache, FastCounter, FastHistogram } from '../metrics/fast-series.js'
import type { RequestContext } from '../request-context.js'
import type { PoolRegistry } from '../upstream/types.js'

export interface BackendMetrics {
  readonly responses: FastCounter<'pool' | 'backend' | 'class'>
  readonly duration: FastHistogram<'pool' | 'backend'>
}

const CLASSES = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'] as const

/** The status class label of a status code. */
export function statusClass(status: number): string {
  return CLASSES[Math.min(5, Math.max(1, Math.floor(status / 100)))]!
}

/**
 * The per-backend series on a registry, created once (a gateway with a TLS listener registers
 * data-plane plugins twice; the admin's stats read them too). `getPools` feeds the health gauge
 * at scrape time.
 */
export function backendMetrics(registry: Registry, getPools?: () => PoolRegistry | undefined): BackendMetrics {
  return metricsOnce(registry, 'backend', () => {
    if (getPools !== undefined) {
      new Gauge({
        name: 'switchyard_backend_healthy',
        help: 'Active health-check verdict per backend: 1 healthy, 0 failing (always 1 without health checks)',
        labelNames: ['pool', 'backend'] as const,
        registers: [registry],
        collect() {
          this.reset()
          for (const pool of getPools()?.all() ?? []) for (const b of pool.backends) this.set({ pool: pool.name, backend: b.origin }, b.healthy ? 1 : 0)
        },
      })
    }
    return {
      responses: new FastCounter({
        name: 'switchyard_backend_responses_total',
        help: 'Responses by serving pool, backend and status class (the last backend tried when all attempts failed)',
        labelNames: ['pool', 'backend', 'class'] as const,
        registers: [registry],
      }),
      duration: new FastHistogram({
        name: 'switchyard_backend_response_seconds',
        help: 'Time to the upstream response headers, by pool and backend',
        labelNames: ['pool', 'backend'] as const,
        buckets: LATENCY_BUCKETS,
        registers: [registry],
      }),
    }
  })
}

/**
 * Records one answered request in the per-backend series: the backend that served (or the last
 * one tried when every attempt failed) and its time to response headers. Children are pre-bound
 * per (pool, backend, class) and found without a key string per request; bounded by
 * configuration (a reload that drops backends leaves a few stale entries, which is harmless).
 */
export function backendRecorder(m: BackendMetrics): (ctx: RequestContext, status: number) => void {
  const responses = new ChildCache((pool, backend, cls) => m.responses.labels(pool, backend, cls))
  const durations = new ChildCache((pool, backend) => m.duration.labels(pool, backend))
  return (ctx, status) => {
    if (ctx.backend === undefined || ctx.servedByPool === undefined) return
    responses.get3(ctx.servedByPool, ctx.backend, statusClass(status)).inc()
    if (ctx.upstreamMs !== undefined) durations.get2(ctx.servedByPool, ctx.backend).observe(ctx.upstreamMs / 1000)
  }
}
