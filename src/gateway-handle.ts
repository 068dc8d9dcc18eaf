/**
 * What data-plane plugins see of the gateway: the live configuration snapshot (with its
 * compiled per-route pipelines), metrics and the logger. Plugins talk to each other through
 * this decorator and the request context, never by importing each other.
 */
import type { Logger } from 'pino'
import type { GatewayMetrics } from './metrics.js'
import type { RequestContext } from './request-context.js'
import { kContext } from './request-context.js'
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

declare module 'fastify' {
  interface FastifyInstance {
    switchyard: GatewayHandle
  }
  interface FastifyRequest {
    [kContext]: RequestContext
  }
}
