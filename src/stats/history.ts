/**
 * The dashboard's history: a ring buffer of points, one per interval, each the rates of the
 * interval before it (requests/s, 4xx/s, 5xx/s, p50 and p99 seconds) for the whole gateway,
 * every route (unmatched traffic as route `-`) and every pool, plus the cache hit ratio and the
 * rate-limit and JWT refusals per second. 15 minutes at 5 s: 180 points.
 *
 * Fed with cumulative snapshots (src/stats/window.ts's Snapshot) taken from the gateway's own
 * Prometheus series, so the charts and a Prometheus server never disagree. Framework-free: the
 * caller owns the timer and reads the metrics.
 */
import { quantile, rate, type Snapshot } from './window.js'

export interface SeriesPoint {
  readonly rate: number | null
  readonly rate4xx: number | null
  readonly rate5xx: number | null
  readonly p50: number | null
  readonly p99: number | null
}

export interface HistoryPoint {
  /** Epoch ms at the end of the interval. */
  readonly t: number
  /** By key: `all`, `route|<name>`, `pool|<name>`. */
  readonly series: Readonly<Record<string, SeriesPoint>>
  /** Share of cache lookups answered from the cache (hit, stale, revalidated); null without lookups. */
  readonly cacheHitRatio: number | null
  /** 429 answers per second. */
  readonly rateLimited: number | null
  /** JWT refusals (401/403 SWITCHYARD_JWT_*) per second. */
  readonly jwtRefused: number | null
}

export interface History {
  /** Add a cumulative snapshot; from the second one on, a point for the interval since the previous. */
  push(snapshot: Snapshot): void
  /** Oldest first. */
  points(): HistoryPoint[]
}

function round(v: number | null, digits: number): number | null {
  if (v === null) return null
  const f = 10 ** digits
  return Math.round(v * f) / f
}

export function createHistory(capacity: number): History {
  const ring: HistoryPoint[] = []
  let previous: Snapshot | undefined
  return {
    push(now) {
      const base = previous
      previous = now
      if (base === undefined) return
      const keys = new Set<string>(['all'])
      for (const k of now.counters.keys()) {
        const cut = k.lastIndexOf('|')
        const key = k.slice(0, cut)
        if (key === 'all' || key.startsWith('route|') || key.startsWith('pool|')) keys.add(key)
      }
      const series: Record<string, SeriesPoint> = {}
      for (const key of keys) {
        series[key] = {
          rate: round(rate(now, base, `${key}|total`), 3),
          rate4xx: round(rate(now, base, `${key}|4xx`), 3),
          rate5xx: round(rate(now, base, `${key}|5xx`), 3),
          p50: round(quantile(now, base, key, 0.5), 6),
          p99: round(quantile(now, base, key, 0.99), 6),
        }
      }
      const lookups = rate(now, base, 'cache|total')
      const hits = rate(now, base, 'cache|hit')
      ring.push({
        t: now.at,
        series,
        cacheHitRatio: lookups === null || lookups === 0 ? null : round((hits ?? 0) / lookups, 4),
        rateLimited: round(rate(now, base, 'refused|ratelimit'), 3),
        jwtRefused: round(rate(now, base, 'refused|jwt'), 3),
      })
      if (ring.length > capacity) ring.shift()
    },
    points() {
      return ring.slice()
    },
  }
}
