/**
 * A worker thread of a multi-thread gateway (`server.workers`): one data plane bound with
 * SO_REUSEPORT beside the other workers', counting rate limits in the shared table, taking
 * health verdicts from the main thread's one checker and mirroring every other worker's
 * circuit transitions, so a backend has one verdict per process. Started by supervisor.ts.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { pino } from 'pino'
import { canaryLinkOf } from '../canary/service.js'
import { createGateway, type Gateway } from '../gateway.js'
import type { UpstreamEvent } from '../upstream/types.js'
import type { FromWorker, ToWorker, WorkerStart } from './messages.js'
import { threadView, watchEventLoop } from './thread-view.js'

const start = workerData as WorkerStart
const port = parentPort!
const send = (m: FromWorker): void => port.postMessage(m)

/** A backend of this worker's registry, by pool and origin. */
function backendOf(gateway: Gateway, pool: string, origin: string) {
  return gateway.pools.get(pool)?.backends.find((b) => b.origin === origin) as
    | (ReturnType<Gateway['pools']['all']>[number]['backends'][number] & { setHealthy?(h: boolean, reason: string): void; breaker: { mirror?(to: string, openFor?: number): void; openFor?: number } })
    | undefined
}

async function main(): Promise<void> {
  watchEventLoop()
  let gateway: Gateway | undefined
  const log = pino({ level: start.logLevel, base: { service: 'switchyard', worker: start.id } })
  const onUpstreamEvent = (e: UpstreamEvent): void => {
    // This worker's own breaker moved: every other worker (and the main thread) takes the same state.
    if (e.type === 'circuit' && gateway !== undefined) {
      const b = backendOf(gateway, e.pool, e.backend)
      send({ type: 'circuit', pool: e.pool, backend: e.backend, to: e.to, openFor: b?.breaker.openFor })
    }
  }
  gateway = await createGateway(
    { ...(start.document as Record<string, unknown>), admin: false },
    {
      configPath: start.configPath,
      logger: log,
      processMetrics: false,
      worker: { sharedRateLimit: start.sharedRateLimit, ...(start.cachePort !== undefined ? { cachePort: start.cachePort } : {}) },
      sharedInFlight: start.sharedInFlight,
      onUpstreamEvent,
      // The main thread decides every canary from every worker's outcomes.
      canaryReport: (reports) => send({ type: 'canary-report', reports }),
    },
  )
  const g = gateway
  // The main thread's canary weights, before the first request (catch-up messages bring later ones).
  if (start.canaryWeights.length > 0) canaryLinkOf(g.handle)?.follow(start.canaryWeights)
  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'reload':
        void g.reload({ ...(m.document as Record<string, unknown>), admin: false }).then((r) => send({ type: 'reloaded', id: m.id, ok: r.ok, ...(r.ok ? {} : { problems: r.problems }) }))
        break
      case 'runtime':
        g.applyRuntime(m.snapshot, m.from)
        break
      case 'health':
        backendOf(g, m.pool, m.backend)?.setHealthy?.(m.healthy, m.reason)
        break
      case 'circuit':
        backendOf(g, m.pool, m.backend)?.breaker.mirror?.(m.to, m.openFor)
        break
      case 'canary-weights':
        canaryLinkOf(g.handle)?.follow(m.weights)
        break
      case 'metrics':
        void g.metrics.registry.getMetricsAsJSON().then((metrics) => send({ type: 'metrics', id: m.id, metrics }))
        break
      case 'view':
        void threadView(start.id, start.restarts, g.metrics).then((view) => send({ type: 'view', id: m.id, view }))
        break
      case 'close':
        // The main thread has gone unready and waited shutdownDelay already: drain and exit.
        void g.close().then(() => {
          port.close()
          process.exit(0)
        })
        break
    }
  })
  try {
    await g.listen()
  } catch (err) {
    send({ type: 'failed', message: (err as Error).message })
    process.exit(1)
  }
  send({ type: 'listening' })
}

main().catch((err: Error) => {
  send({ type: 'failed', message: err.message })
  process.exit(1)
})
