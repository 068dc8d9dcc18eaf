/**
 * What data-plane plugins see of the gateway: the live configuration snapshot, metrics, the
 * logger and the forward-middleware chain. Plugins talk to each other through this decorator
 * and the request context, never by importing each other.
 */
import type { Logger } from 'pino'
import type { GatewayMetrics } from './metrics.js'
import type { ForwardMiddleware, ForwardScope, ScopedForwardMiddleware } from './proxy/types.js'
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
  /**
   * Register a forward middleware for the routes `appliesTo` selects (default: every route);
   * earlier registrations wrap later ones. Only during plugin registration. The chain belongs to
   * the gateway and is shared by its data-plane apps (plain and TLS), so a feature registers its
   * middleware once per gateway, not once per app.
   */
  useForward(mw: ForwardMiddleware, appliesTo?: ForwardScope): void
  /** The middlewares in registration order (read by the proxy plugin when it composes). */
  readonly forwardMiddlewares: readonly ScopedForwardMiddleware[]
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
