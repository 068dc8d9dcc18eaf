/**
 * Recent operational events (`GET /api/events`): health and circuit transitions, backends
 * added and removed, reloads, drains, weight and backend-state changes. A bounded ring, newest
 * first, held in memory: it answers "what just happened?" next to the metrics (how often) and
 * the log (everything). Framework-free.
 */
import type { UpstreamEvent } from './upstream/types.js'

export interface GatewayEvent {
  /** ISO 8601 time of the event. */
  readonly time: string
  /** e.g. `health`, `circuit`, `backend-added`, `backend-removed`, `reload`, `drain`, `backend.state`, `route.split`. */
  readonly type: string
  readonly detail: Readonly<Record<string, unknown>>
}

export interface EventLog {
  record(type: string, detail: Record<string, unknown>): void
  /** Newest first; at most `limit` (default: all held). */
  list(limit?: number): GatewayEvent[]
}

/** How many events are held; older ones are dropped. */
export const EVENT_LOG_SIZE = 500

export function createEventLog(size = EVENT_LOG_SIZE, now: () => Date = () => new Date()): EventLog {
  const ring: (GatewayEvent | undefined)[] = new Array(size)
  let next = 0
  let count = 0
  return {
    record(type, detail) {
      ring[next] = { time: now().toISOString(), type, detail }
      next = (next + 1) % size
      if (count < size) count++
    },
    list(limit = count) {
      const n = Math.max(0, Math.min(limit, count))
      const out: GatewayEvent[] = []
      for (let i = 1; i <= n; i++) out.push(ring[(next - i + size) % size]!)
      return out
    },
  }
}

/**
 * The upstream layer's events worth showing an operator. `retry` (one per retry decision) would
 * flood the ring and is in the metrics; `ejection` repeats the `circuit` transition to `open`.
 */
export function recordUpstreamEvent(log: EventLog, e: UpstreamEvent): void {
  switch (e.type) {
    case 'health':
      log.record('health', { pool: e.pool, backend: e.backend, healthy: e.healthy, reason: e.reason })
      break
    case 'circuit':
      log.record('circuit', { pool: e.pool, backend: e.backend, from: e.from, to: e.to })
      break
    case 'ejection-refused':
      log.record('ejection-refused', { pool: e.pool, backend: e.backend, ejected: e.ejected, total: e.total })
      break
    case 'backend-added':
    case 'backend-removed':
      log.record(e.type, { pool: e.pool, backend: e.backend })
      break
    default:
      break
  }
}
