/**
 * What the data plane and the admin API see of the gateway: the live configuration snapshot
 * (with its compiled per-route pipelines), metrics, the logger and the trusted-proxy matcher.
 * Features key their per-gateway services on it (cache purge, canary service).
 */
import type { Logger } from 'pino'
import type { GatewayMetrics } from './metrics.js'
import type { RuntimeState } from './runtime-state.js'
import type { TrustMatcher } from './net/client-ip.js'

export interface GatewayHandle {
  /** The configuration serving new requests now (swapped atomically on reload). */
  readonly state: RuntimeState
  readonly metrics: GatewayMetrics
  readonly log: Logger
  readonly trust: TrustMatcher
  /** Subscribe to configuration swaps (e.g. to rebuild per-config plugin state). */
  onReload(listener: (state: RuntimeState, previous: RuntimeState) => void): void
}
