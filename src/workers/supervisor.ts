/**
 * `server.workers: N | auto`: N worker threads share the listeners (SO_REUSEPORT: each binds
 * the same port and the kernel spreads connections), with the semantics of one gateway.
 *
 * Why threads, not `node:cluster` processes: state that must be one per process (rate-limit
 * budgets) lives in a SharedArrayBuffer that threads share and processes cannot; messages
 * between threads are a structured clone, not a pipe; one process is what supervisors,
 * containers and `/ready` expect. A thread that throws is replaced like a process would be.
 *
 * The main thread owns what must be one for the process and binds no data port: the admin
 * listener, the one health checker per pool (its verdicts are sent to every worker), config
 * loading and validation (a rejected file reaches no worker), runtime changes (applied here,
 * then sent to every worker), `/ready`, and supervision. Where each piece of state lives, and
 * why: docs/workers.md.
 */
import { once } from 'node:events'
import net from 'node:net'
import { join } from 'node:path'
import { MessageChannel, Worker } from 'node:worker_threads'
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client'
import type { Logger } from 'pino'
import { cacheServiceOf } from '../cache/registry.js'
import { Coalescer } from '../cache/coalescer.js'
import { fillLimits } from '../cache/fill-budget.js'
import { ProcessFills, serveStore } from '../cache/shared-store.js'
import { canaryLinkOf } from '../canary/service.js'
import { normalizeConfig } from '../config/index.js'
import { createGateway, type Gateway, type GatewayOptions, type ReloadResult, type WorkerView } from '../gateway.js'
import { packageRoot } from '../package-root.js'
import { createSharedRateLimitMemory } from '../ratelimit/shared-memory-store.js'
import { createSharedInFlightMemory } from '../upstream/shared-in-flight.js'
import type { UpstreamEvent } from '../upstream/types.js'
import type { FromWorker, ToWorker, WorkerStart } from './messages.js'
import { threadView } from './thread-view.js'
import type { SyncedGateway } from '../config-source/etcd-sync.js'

/** Series the main thread owns for the process (health, circuits, reloads, the process itself); everything else is summed over workers. */
const MAIN_OWNED = /^(process_|nodejs_|switchyard_(backend_up|backend_healthy|circuit_state|config_|build_info|stream_|canary_|cache_bytes|cache_entries|cache_evictions))/
/** The same value in every worker (certificates): the first worker's. */
const SAME_IN_EVERY_WORKER = /^switchyard_tls_certificate_expiry/

export interface SupervisorOptions {
  /** The configuration document (YAML/JSON parsed, before normalisation). */
  readonly document: Record<string, unknown>
  /** Worker threads (resolved: see cores.ts for `auto`). */
  readonly count: number
  readonly configPath?: string
  readonly logger?: Logger | false
  /** Reads the document again (SIGHUP, POST /api/reload, etcd watch). Default: none (reload(doc) only). */
  readonly loadDocument?: () => Promise<Record<string, unknown>>
  /** pino level of the workers' own log lines (default: the logger's, or silent). */
  readonly workerLogLevel?: string
  /** First restart delay after a worker dies; doubles per restart of that slot up to 5 s. */
  readonly restartDelayMs?: number
}

interface Slot {
  readonly id: number
  worker: Worker | undefined
  /** Stops serving the main thread's memory cache to this slot's current worker. */
  stopCache?: () => void
  restarts: number
  listening: boolean
}

export interface Supervisor {
  /** The main thread's gateway: admin, health checks, reloads (no data listener). */
  readonly gateway: Gateway
  readonly url: string
  readonly settings: Gateway['settings']
  /** What a fleet's etcd sync drives: the main gateway, with runtime changes applied in every worker too. */
  readonly syncTarget: SyncedGateway
  /** The live worker threads (tests end one to see it replaced). */
  readonly threads: readonly (Worker | undefined)[]
  listen(): Promise<void>
  reload(document?: Record<string, unknown>): Promise<ReloadResult>
  close(): Promise<void>
}

/** A free TCP port on `host` (port 0 cannot be shared: every worker must bind the same one). */
async function freePort(host: string): Promise<number> {
  const s = net.createServer()
  s.listen(0, host)
  await once(s, 'listening')
  const port = (s.address() as net.AddressInfo).port
  await new Promise((r) => s.close(r))
  return port
}

export async function createSupervisor(o: SupervisorOptions): Promise<Supervisor> {
  const log = o.logger === false || o.logger === undefined ? undefined : o.logger
  // Validated once here: a rejected document never reaches a worker.
  const settings = normalizeConfig(o.document, { ...(o.configPath ? { source: o.configPath } : {}) })
  const server = { ...((o.document.server as Record<string, unknown> | undefined) ?? {}) }
  if (settings.server.port === 0) server.port = await freePort(settings.server.host)
  const tls = server.tls as Record<string, unknown> | undefined
  if (tls !== undefined && settings.server.tls?.port === 0) server.tls = { ...tls, port: await freePort(settings.server.host) }
  const withPorts = (doc: Record<string, unknown>): Record<string, unknown> => ({ ...doc, server: { ...((doc.server as object | undefined) ?? {}), port: server.port, ...(server.tls ? { tls: server.tls } : {}) } })
  let current = withPorts(o.document)
  let lastLoaded = current
  // Concurrent misses for one key on different workers fetch once (src/cache/shared-store.ts),
  // bounded as each worker's own coalescing is (src/cache/fill-budget.ts).
  const fillBound = fillLimits(settings.cache.maxSize, settings.cache.maxEntrySize)
  const processFills = new ProcessFills(new Coalescer<string>(30_000, undefined, { maxFlights: fillBound.maxFills, maxWaiters: fillBound.maxWaiters }))
  const sharedRateLimit = createSharedRateLimitMemory()
  const sharedInFlight = createSharedInFlightMemory()
  const slots: Slot[] = Array.from({ length: o.count }, (_, id) => ({ id, worker: undefined, restarts: 0, listening: false }))
  const pending = new Map<number, (m: FromWorker) => void>()
  let nextId = 1
  let closing = false
  let gateway: Gateway | undefined

  const post = (slot: Slot, m: ToWorker): void => {
    if (slot.listening) slot.worker?.postMessage(m)
  }
  const broadcast = (m: ToWorker, except?: Slot): void => {
    for (const s of slots) if (s !== except) post(s, m)
  }
  const ask = <T extends FromWorker>(slot: Slot, make: (id: number) => ToWorker, timeoutMs = 2000): Promise<T | undefined> => {
    if (!slot.listening || slot.worker === undefined) return Promise.resolve(undefined)
    const id = nextId++
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        pending.delete(id)
        resolve(undefined)
      }, timeoutMs)
      pending.set(id, (m) => {
        clearTimeout(timer)
        resolve(m as T)
      })
      slot.worker!.postMessage(make(id))
    })
  }

  /** Upstream events of the main thread: its health checker's verdicts go to every worker. */
  const onUpstreamEvent = (e: UpstreamEvent): void => {
    if (e.type === 'health') broadcast({ type: 'health', pool: e.pool, backend: e.backend, healthy: e.healthy, reason: e.reason })
  }

  /** What a new (or replacement) worker must know beyond the document: verdicts, circuits, runtime changes. */
  const catchUp = (slot: Slot): void => {
    const g = gateway!
    for (const p of g.pools.all()) {
      for (const b of p.backends) {
        if (!b.healthy) post(slot, { type: 'health', pool: p.name, backend: b.origin, healthy: false, reason: 'main thread verdict' })
        if (b.breaker.state !== 'closed') post(slot, { type: 'circuit', pool: p.name, backend: b.origin, to: b.breaker.state, openFor: (b.breaker as { openFor?: number }).openFor })
      }
    }
    const runtime = g.runtimeSnapshot()
    if (Object.keys(runtime.splits).length > 0 || Object.keys(runtime.backends).length > 0) post(slot, { type: 'runtime', snapshot: runtime, from: 'main' })
    const weights = canaryLinkOf(g.handle)?.weights() ?? []
    if (weights.length > 0) post(slot, { type: 'canary-weights', weights })
  }

  const spawn = (slot: Slot): Promise<void> => {
    // The one memory cache of the process is the main thread's store; each worker reaches it
    // over a port of its own (src/cache/shared-store.ts). A replacement gets a new port to the
    // same store: nothing cached is lost with a worker.
    // `cache.store` applies at start (a reload that changes it warns): a replacement worker
    // uses the store the process started with, whatever the document says now.
    const cacheStore = settings.cache.store === 'memory' ? cacheServiceOf(gateway!.handle)?.store : undefined
    const channel = cacheStore !== undefined ? new MessageChannel() : undefined
    slot.stopCache?.()
    slot.stopCache = channel !== undefined ? serveStore(cacheStore!, channel.port1, processFills) : undefined
    const start: WorkerStart = {
      id: slot.id,
      document: current,
      configPath: o.configPath,
      sharedRateLimit,
      sharedInFlight,
      logLevel: o.workerLogLevel ?? log?.level ?? 'silent',
      restarts: slot.restarts,
      canaryWeights: canaryLinkOf(gateway!.handle)?.weights() ?? [],
      ...(channel !== undefined ? { cachePort: channel.port2 } : {}),
    }
    // The young generation bounded as the main thread's is (--max-semi-space-size=16 in bin/switchyard.js: 3 × 16 MiB).
    const worker = new Worker(join(packageRoot, 'dist/src/workers/worker-main.js'), {
      workerData: start,
      transferList: channel !== undefined ? [channel.port2] : [],
      resourceLimits: { maxYoungGenerationSizeMb: 48 },
    })
    slot.worker = worker
    slot.listening = false
    return new Promise((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'listening':
            slot.listening = true
            catchUp(slot)
            resolve()
            break
          case 'failed':
            reject(new Error(`worker ${slot.id}: ${m.message}`))
            break
          case 'circuit': {
            // One verdict per backend: the main thread and every other worker take this state.
            const b = gateway!.pools.get(m.pool)?.backends.find((x) => x.origin === m.backend)
            ;(b?.breaker as { mirror?(to: string, openFor?: number): void } | undefined)?.mirror?.(m.to, m.openFor)
            gateway!.events.record('circuit', { pool: m.pool, backend: m.backend, to: m.to, worker: slot.id })
            broadcast({ type: 'circuit', pool: m.pool, backend: m.backend, to: m.to, openFor: m.openFor }, slot)
            break
          }
          case 'canary-report':
            // Fed into the main thread's analyses as if it had served the requests itself.
            canaryLinkOf(gateway!.handle)?.ingest(m.reports)
            break
          default:
            if ('id' in m) pending.get(m.id)?.(m)
            if ('id' in m) pending.delete(m.id)
        }
      })
      worker.on('error', (err) => log?.error({ worker: slot.id, err }, 'worker thread failed'))
      worker.on('exit', (code) => {
        const wasListening = slot.listening
        slot.listening = false
        slot.worker = undefined
        slot.stopCache?.()
        slot.stopCache = undefined
        if (!wasListening) reject(new Error(`worker ${slot.id} exited with code ${code} before listening`))
        if (closing) return
        // Replaced with backoff; its open connections are lost, no other worker's.
        slot.restarts++
        const delay = Math.min(5_000, (o.restartDelayMs ?? 100) * 2 ** Math.min(slot.restarts - 1, 6))
        log?.warn({ worker: slot.id, code, restarts: slot.restarts, delayMs: delay }, 'worker thread exited; replacing it')
        gateway?.events.record('worker', { worker: slot.id, code, restarts: slot.restarts })
        setTimeout(() => {
          if (!closing) spawn(slot).catch((err: Error) => log?.error({ worker: slot.id, err: err.message }, 'replacement worker failed to start'))
        }, delay).unref()
      })
    })
  }

  const aggregated = async () => {
    const own = await gateway!.metrics.registry.getMetricsAsJSON()
    const answers = await Promise.all(slots.map((s) => ask<Extract<FromWorker, { type: 'metrics' }>>(s, (id) => ({ type: 'metrics', id }))))
    const fromWorkers = answers.filter((a) => a !== undefined).map((a) => a.metrics)
    type Metric = MetricObjectWithValues<MetricValue<string>>
    // The main thread's own series for what it owns; every worker's for the traffic (summed).
    const arrays: Metric[][] = [
      own.filter((m) => MAIN_OWNED.test(m.name)),
      ...fromWorkers.map((w, i) => w.filter((m) => !MAIN_OWNED.test(m.name) && (i === 0 || !SAME_IN_EVERY_WORKER.test(m.name)))),
    ]
    const registry = AggregatorRegistry.aggregate(arrays as never)
    return registry
  }
  const metricsText = async (): Promise<{ contentType: string; body: string }> => {
    const registry = await aggregated()
    return { contentType: registry.contentType, body: await registry.metrics() }
  }

  const workers = async (): Promise<WorkerView[]> => {
    const views = await Promise.all(slots.map((s) => ask<Extract<FromWorker, { type: 'view' }>>(s, (id) => ({ type: 'view', id }))))
    return slots.map((s, i) => views[i]?.view ?? { id: s.id, threadId: s.worker?.threadId ?? -1, requests: 0, eventLoopLagMs: 0, heapUsedBytes: 0, restarts: s.restarts })
  }

  const options: GatewayOptions = {
    ...(o.configPath ? { configPath: o.configPath } : {}),
    logger: o.logger ?? false,
    dataPlane: false,
    // The main thread reads the same table: /api/pools shows the process's in-flight requests.
    sharedInFlight,
    onUpstreamEvent,
    metricsText,
    processSeries: async () => (await aggregated()).getMetricsAsJSON(),
    workers,
    ...(o.loadDocument
      ? {
          loadConfig: async () => {
            lastLoaded = withPorts(await o.loadDocument!())
            return lastLoaded
          },
        }
      : {}),
  }
  gateway = await createGateway(current, options)
  const g = gateway
  // Every reload the main thread applies (SIGHUP, POST /api/reload, etcd, reload(doc)) reaches
  // every worker with the same document; a rejected one never gets here.
  let reloads: Promise<unknown> = Promise.resolve()
  g.handle.onReload(() => {
    current = lastLoaded
    const doc = current
    reloads = Promise.all(slots.map((s) => ask(s, (id) => ({ type: 'reload', id, document: doc }), 10_000)))
  })
  // Runtime changes made through the admin API apply in every worker.
  g.onRuntimeChange(() => broadcast({ type: 'runtime', snapshot: g.runtimeSnapshot(), from: 'main' }))
  // Every canary decision (analysis, operator, reload) sets the weights every worker runs at.
  canaryLinkOf(g.handle)?.onWeights((weights) => broadcast({ type: 'canary-weights', weights }))

  const url = `http://${settings.server.host === '0.0.0.0' ? '127.0.0.1' : settings.server.host}:${server.port as number}`
  const syncTarget: SyncedGateway = {
    reload: () => g.reload(),
    runtimeSnapshot: () => g.runtimeSnapshot(),
    applyRuntime(snapshot, from) {
      const skipped = g.applyRuntime(snapshot, from)
      broadcast({ type: 'runtime', snapshot, from })
      return skipped
    },
    onRuntimeChange: (l) => g.onRuntimeChange(l),
    addDependency: (name, probe) => g.addDependency(name, probe),
    handle: g.handle,
  }
  return {
    gateway: g,
    syncTarget,
    url,
    get settings() {
      return g.settings
    },
    get threads() {
      return slots.map((s) => s.worker)
    },
    async listen() {
      await g.listen()
      try {
        await Promise.all(slots.map((s) => spawn(s)))
      } catch (err) {
        closing = true
        await Promise.all(slots.map((s) => s.worker?.terminate()))
        await g.close()
        throw err
      }
      log?.info({ workers: o.count, url }, 'switchyard workers listening')
    },
    async reload(document) {
      if (document !== undefined) lastLoaded = withPorts(document)
      const r = await g.reload(document !== undefined ? lastLoaded : undefined)
      await reloads
      return r
    },
    async close() {
      // Unready and waiting shutdownDelay happen in the main gateway's close; the workers keep
      // serving meanwhile, then drain their in-flight requests and exit.
      const main = g.close()
      await new Promise((r) => setTimeout(r, g.settings.server.shutdownDelay))
      closing = true
      await Promise.all(
        slots.map(async (s) => {
          const w = s.worker
          if (w === undefined) return
          const exited = once(w, 'exit')
          w.postMessage({ type: 'close' } satisfies ToWorker)
          const timer = setTimeout(() => void w.terminate(), g.settings.server.shutdownTimeout + 1_000)
          await exited
          clearTimeout(timer)
        }),
      )
      await main
    },
  }
}

export { threadView }
