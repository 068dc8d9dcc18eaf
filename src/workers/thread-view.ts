/**
 * One thread's line of `GET /api/workers`: requests answered (the requests counter summed),
 * event-loop lag (mean delay of a histogram sampled since the thread started), heap in use.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'

type IntervalHistogram = ReturnType<typeof monitorEventLoopDelay>
import { threadId } from 'node:worker_threads'
import v8 from 'node:v8'
import type { WorkerView } from '../gateway.js'
import type { GatewayMetrics } from '../metrics.js'

let lag: IntervalHistogram | undefined

/** Starts sampling this thread's event-loop delay (once per thread). */
export function watchEventLoop(): IntervalHistogram {
  if (lag === undefined) {
    lag = monitorEventLoopDelay({ resolution: 20 })
    lag.enable()
  }
  return lag
}

export async function threadView(id: number, restarts: number, metrics: Pick<GatewayMetrics, 'requests'>): Promise<WorkerView> {
  const h = watchEventLoop()
  const requests = (await metrics.requests.get()).values.reduce((n, v) => n + v.value, 0)
  const mean = Number.isFinite(h.mean) ? h.mean / 1e6 : 0
  return { id, threadId, requests, eventLoopLagMs: Math.round(mean * 100) / 100, heapUsedBytes: v8.getHeapStatistics().used_heap_size, restarts }
}
