/**
 * What the main thread and the worker threads of a multi-thread gateway say to each other
 * (`server.workers`, src/workers/). Plain data only (structured clone).
 */
import type { MessagePort } from 'node:worker_threads'
import type { MetricObjectWithValues, MetricValue } from 'prom-client'
import type { CanaryReport, CanaryWeight } from '../canary/service.js'
import type { WorkerView } from '../gateway.js'
import type { RuntimeSnapshot } from '../runtime-changes.js'
import type { CircuitState } from '../upstream/types.js'

/** What a worker thread starts with (workerData). */
export interface WorkerStart {
  readonly id: number
  /** The configuration document (before normalisation), ports resolved. */
  readonly document: unknown
  readonly configPath: string | undefined
  /** The rate-limit table every worker counts in (SharedArrayBuffer). */
  readonly sharedRateLimit: SharedArrayBuffer
  /** Requests in flight per backend for the process (least-connections, P2C, least-response-time). */
  readonly sharedInFlight: SharedArrayBuffer
  /** The main thread's memory cache, served over this port (transferred; src/cache/shared-store.ts). Absent with `cache.store: redis`. */
  readonly cachePort?: MessagePort
  /** pino level for the worker's own log lines ('silent' in tests). */
  readonly logLevel: string
  readonly restarts: number
  /** The main thread's canary weights now: followed before the worker binds (a replacement must not serve the file's first step). */
  readonly canaryWeights: readonly CanaryWeight[]
}

export type ToWorker =
  | { readonly type: 'reload'; readonly id: number; readonly document: unknown }
  | { readonly type: 'runtime'; readonly snapshot: RuntimeSnapshot; readonly from: string }
  | { readonly type: 'health'; readonly pool: string; readonly backend: string; readonly healthy: boolean; readonly reason: string }
  | { readonly type: 'circuit'; readonly pool: string; readonly backend: string; readonly to: CircuitState; readonly openFor: number | undefined }
  | { readonly type: 'metrics'; readonly id: number }
  | { readonly type: 'view'; readonly id: number }
  /** The main thread's canary analyses set these weights: run at them. */
  | { readonly type: 'canary-weights'; readonly weights: readonly CanaryWeight[] }
  | { readonly type: 'close' }

export type FromWorker =
  | { readonly type: 'listening' }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'reloaded'; readonly id: number; readonly ok: boolean; readonly problems?: readonly string[] }
  | { readonly type: 'circuit'; readonly pool: string; readonly backend: string; readonly to: CircuitState; readonly openFor: number | undefined }
  | { readonly type: 'metrics'; readonly id: number; readonly metrics: MetricObjectWithValues<MetricValue<string>>[] }
  | { readonly type: 'view'; readonly id: number; readonly view: WorkerView }
  /** A batch of canary cohort outcomes counted by this worker (the main thread decides). */
  | { readonly type: 'canary-report'; readonly reports: readonly CanaryReport[] }
