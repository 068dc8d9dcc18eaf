/**
 * Features: the framework-free unit of everything that happens to a request between the
 * route match and the upstream (tracing, rate limits, JWT, cache, mirror, and what comes next).
 *
 * A feature is built once per gateway. For every configuration (at start and on each reload)
 * the gateway asks each feature to `prepare` it without touching live state; the prepared
 * object compiles each route into the stage and/or forward middleware that route needs, or
 * into nothing. Problems found while preparing are thrown as a ConfigError (path: message)
 * and reject the configuration exactly like a schema problem: `check` and reload ask the same
 * code. When the whole new configuration is ready, every prepared feature is committed in one
 * step; when anything fails, each is discarded and the running configuration is untouched.
 *
 * A route that does not use a feature runs nothing for it: the compiled pipeline holds only
 * the stages and middlewares its route uses (Fastify does the same for its own hooks, where
 * "no hooks" is null). Every listener (plain, TLS, the ones to come) runs the same compiled
 * pipelines, so a feature never needs to guard against being attached twice.
 */
import type { GatewaySettings } from '../config/model.js'
import type { ForwardMiddleware } from '../proxy/types.js'
import type { ProxyRequest } from '../proxy/request.js'
import type { RequestContext } from '../request-context.js'
import type { CompiledRoute } from '../routing/types.js'

/**
 * When a stage runs, relative to the others. Within a phase, stages run in the gateway's
 * feature order.
 * - `early`: before authentication (tracing; rate limits, so a limited request costs no
 *   verification and no upstream call).
 * - `auth`: authentication (JWT, API keys, basic auth); sets the claims.
 * - `late`: after authentication, before the pool decision (claim-keyed rate limits, access
 *   rules that read claims).
 */
export type StagePhase = 'early' | 'auth' | 'late'

/**
 * One step of a route's request path. Returns nothing when done synchronously (the common
 * case: no promise per request), or a promise when it must wait; throwing or rejecting with a
 * gateway error (a `statusCode` and a `code` from the error registry) answers the request.
 */
export type StageRun = (request: ProxyRequest, ctx: RequestContext) => void | Promise<void>

export interface RequestStage {
  readonly phase: StagePhase
  readonly run: StageRun
}

/** What one route gets from one feature. */
export interface RouteFeature {
  readonly stage?: RequestStage
  /** Wraps the forward chain of this route (outer features wrap inner ones, in feature order). */
  readonly middleware?: ForwardMiddleware
}

/** A feature's view of one configuration, built without touching live state. */
export interface PreparedFeature {
  /** What `route` needs from this feature, or undefined when it uses none of it. */
  compileRoute?(route: CompiledRoute): RouteFeature | undefined
  /** The configuration this was prepared for now serves: switch live state over (must not throw). */
  commit?(): void
  /** The configuration was rejected: release what prepare built. */
  discard?(): void
}

export interface Feature {
  /** Unique among the gateway's features (logs, ordering, embedders' lookups). */
  readonly name: string
  /**
   * Check and build what `next` needs. `current` is the serving configuration (undefined at
   * start), so unchanged sections can keep their state (a JWKS cache, a store connection).
   * Throws ConfigError naming the path of each problem.
   */
  prepare?(next: GatewaySettings, current: GatewaySettings | undefined): PreparedFeature | Promise<PreparedFeature>
  /** Called once when the gateway is listening (start timers, warm caches). */
  start?(): void | Promise<void>
  /** The gateway is closing: stop timers, close connections. */
  close?(): void | Promise<void>
}
