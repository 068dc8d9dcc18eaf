/**
 * Metric series of what a reload removed: a route, a pool or a backend that left the
 * configuration takes its labelled series with it (every metric of the registry, whichever
 * feature created it), so a long-running gateway under configuration churn (names change,
 * backends come and go) does not accumulate series without bound. Series of names that are
 * still configured, and label values that were never configuration names, are left alone.
 */
import type { Registry } from 'prom-client'
import type { GatewaySettings } from './config/model.js'

/** Route names, pool names and backend origins per pool of a configuration. */
interface Names {
  readonly routes: Set<string>
  readonly pools: Set<string>
  readonly backends: Map<string, Set<string>>
}

function originOf(url: string): string {
  const u = new URL(url)
  return u.origin !== 'null' ? u.origin : `${u.protocol}//${u.host}`
}

function namesOf(settings: GatewaySettings): Names {
  const backends = new Map<string, Set<string>>()
  for (const p of settings.pools) backends.set(p.name, new Set(p.backends.map((b) => originOf(b.url))))
  return { routes: new Set(settings.routes.map((r) => r.name)), pools: new Set(settings.pools.map((p) => p.name)), backends }
}

/** What `prev` had and `next` has not. */
function removedNames(prev: GatewaySettings, next: GatewaySettings): Names {
  const a = namesOf(prev)
  const b = namesOf(next)
  const backends = new Map<string, Set<string>>()
  for (const [pool, origins] of a.backends) {
    const kept = b.backends.get(pool)
    const gone = kept === undefined ? origins : new Set([...origins].filter((o) => !kept.has(o)))
    if (gone.size > 0) backends.set(pool, gone)
  }
  return {
    routes: new Set([...a.routes].filter((r) => !b.routes.has(r))),
    pools: new Set([...a.pools].filter((p) => !b.pools.has(p))),
    backends,
  }
}

/** Label keys that tell the samples of one series apart (histogram buckets, summary quantiles). */
const SAMPLE_LABELS = new Set(['le', 'quantile'])

function isRemoved(labels: Record<string, string | number>, gone: Names): boolean {
  const route = labels['route']
  if (typeof route === 'string' && gone.routes.has(route)) return true
  for (const key of ['pool', 'from', 'to']) {
    const v = labels[key]
    if (typeof v === 'string' && gone.pools.has(v)) return true
  }
  const backend = labels['backend']
  const pool = labels['pool']
  return typeof backend === 'string' && typeof pool === 'string' && gone.backends.get(pool)?.has(backend) === true
}

/** Removes the series of routes, pools and backends that `prev` had and `next` has not. */
export async function pruneRemovedSeries(registry: Registry, prev: GatewaySettings, next: GatewaySettings): Promise<number> {
  const gone = removedNames(prev, next)
  if (gone.routes.size === 0 && gone.pools.size === 0 && gone.backends.size === 0) return 0
  let removed = 0
  for (const metric of registry.getMetricsAsArray()) {
    const m = metric as unknown as { get(): Promise<{ values: { labels: Record<string, string | number> }[] }> | { values: { labels: Record<string, string | number> }[] }; remove(labels: Record<string, string | number>): void; labelNames?: readonly string[] }
    const data = await m.get()
    const seen = new Set<string>()
    for (const { labels } of data.values) {
      if (!isRemoved(labels, gone)) continue
      const own: Record<string, string | number> = {}
      for (const [k, v] of Object.entries(labels)) if (!SAMPLE_LABELS.has(k)) own[k] = v
      const key = JSON.stringify(own)
      if (seen.has(key)) continue
      seen.add(key)
      try {
        m.remove(own)
        removed++
      } catch {
        // A label set the metric does not own (registry default labels): not ours to remove.
      }
    }
  }
  return removed
}
