/**
 * What the admin listener needs of the gateway, and nothing more: the admin API and the
 * dashboard depend on this port, never on src/gateway.ts, so the gateway can build the admin
 * app without an import circle. The gateway satisfies it structurally (`buildAdmin(gateway)`).
 *
 * Also the contract between routes/admin.ts and the feature endpoints it registers
 * (`AdminContext`, `AdminFeature`), so those files import a leaf, not each other.
 */
import type { FastifyPluginAsync } from 'fastify'
import type { Logger } from 'pino'
import type { GatewayHandle } from '../src/gateway-handle.js'
import type { EventLog } from '../src/events.js'
import type { GatewayMetrics } from '../src/metrics.js'
import type { RuntimeState } from '../src/runtime-state.js'
import type { StreamSnapshot } from '../src/streams/stream-env.js'
import type { ManagedPoolRegistry } from '../src/upstream/types.js'

/** The outcome of `POST /api/reload`. */
export type AdminReloadResult = { readonly ok: true; readonly version: number } | { readonly ok: false; readonly problems: readonly string[] }

/** One line of the dashboard's reload history. */
export interface AdminReloadRecord {
  readonly at: string
  readonly ok: boolean
  readonly version: number
  readonly problems?: readonly string[]
}

export interface AdminPort {
  /** The configuration serving now: settings (admin token), routes, pools (explain, stats, splits). */
  readonly state: RuntimeState
  /** True once listening and until close begins (`GET /health`). */
  readonly serving: boolean
  /** `GET /ready`: serving and not draining. */
  readonly ready: boolean
  /** True from SIGTERM or `POST /api/drain` until exit. */
  readonly draining: boolean
  /** `POST /api/drain`: go unready for good (false when already draining). */
  drain(reason: string): boolean
  /** Recent events (`GET /api/events`); admin changes are recorded there. */
  readonly events?: EventLog
  /** The admin app logs through a child of it; audit lines go to it. */
  readonly log: Logger
  /** `GET /metrics` and the stats' rates read these. */
  readonly metrics: Pick<GatewayMetrics, 'registry' | 'requests' | 'duration'>
  /** `GET /api/pools`; `PUT /api/pools/:pool/backends/:backend`. */
  readonly pools: Pick<ManagedPoolRegistry, 'snapshot' | 'setBackend'>
  /** `GET /api/streams`. */
  readonly streams: { snapshot(): readonly StreamSnapshot[] }
  /** The data plane's handle: the key under which its cache service is registered (cache purge). */
  readonly handle: GatewayHandle
  /** `POST /api/reload`: re-read the configuration file. */
  reload(): Promise<AdminReloadResult>
  /** Recent reloads, newest first (dashboard). */
  readonly reloadHistory: readonly AdminReloadRecord[]
  /** `GET /health?deep=1`: every dependency's connectivity (pools, Redis, etcd). */
  deepHealth?(): Promise<{ readonly ok: boolean; readonly checks: Record<string, { readonly ok: boolean }> }>
  /** `GET /metrics` when it is not `metrics.registry` alone (several worker threads). */
  readonly metricsText?: () => Promise<{ readonly contentType: string; readonly body: string }>
  /** The series of the whole process, when not `metrics.registry`'s alone (several worker threads). */
  readonly processSeries?: () => Promise<readonly { readonly name: string; readonly values: readonly unknown[] }[]>
  /** `GET /api/workers`. */
  workers?(): Promise<readonly { readonly id: number; readonly threadId: number; readonly requests: number; readonly eventLoopLagMs: number; readonly heapUsedBytes: number; readonly restarts: number }[]>
  /** A runtime change was made through the admin API (a fleet's sync publishes it). */
  runtimeChanged?(action: string, detail: Record<string, unknown>): void
  /** Certificates the TLS listener serves (absent or empty without TLS). */
  readonly certificates?: readonly { readonly file: string; readonly subject: string; readonly serverNames: readonly string[]; readonly validTo: string; readonly acme: boolean }[]
}

/** What every admin endpoint is given. */
export interface AdminContext {
  readonly gateway: AdminPort
  audit(action: string, detail: Record<string, unknown>): void
}

/** Admin endpoints contributed by a feature: a Fastify plugin receiving `{ ctx: AdminContext }`. */
export interface AdminFeature {
  readonly name: string
  readonly plugin: FastifyPluginAsync<{ ctx: AdminContext }>
}
