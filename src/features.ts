/**
 * The gateway's built-in features, in the order their stages run within a phase and their
 * middlewares wrap the forward chain (see src/pipeline/feature.ts). Order matters:
 * - tracing first: even a request refused by a later stage has its trace id in the access log;
 * - rate limits before JWT (phase `early`): a limited request costs no verification and no
 *   upstream call (claim-keyed limits run in phase `late`, after the token is verified);
 * - the cache before the mirror: its middleware wraps the mirror's, so cache hits are not
 *   mirrored and only requests that really go upstream are copied.
 * - the canary last: its stage (phase `late`) only marks the route's requests for analysis.
 * - compression before (outside) the cache: the cache stores one representation and every
 *   answer, hit or miss, is compressed on the way out (src/policies/compress.ts says why).
 * - access rules, then CORS, in phase `early`, before rate limits: a refused address spends no
 *   budget, and a preflight is answered before anything that needs credentials; API keys and
 *   basic auth in `auth` after JWT; respond/redirect in `late`, after everything that guards them.
 * Embedders' features (GatewayOptions.features) come after these.
 */
import type { Registry } from 'prom-client'
import type { Logger } from 'pino'
import type { GatewaySettings } from './config/model.js'
import { createJwtFeature } from './auth/jwt-feature.js'
import type { JwtVerifierOptions } from './auth/jwt-verifier.js'
import { createCacheFeature } from './cache/feature.js'
import type { CacheStore } from './cache/store.js'
import { createCanaryFeature } from './canary/controller.js'
import type { CanaryReport } from './canary/service.js'
import type { EventLog } from './events.js'
import type { GatewayMetrics } from './metrics.js'
import type { Feature } from './pipeline/feature.js'
import { createMirrorFeature } from './proxy/mirror.js'
import { createRateLimitFeature } from './ratelimit/rate-limit-feature.js'
import type { RateLimitStoreHandle } from './ratelimit/store.js'
import type { Transport } from './proxy/transport.js'
import { createTracingFeature } from './tracing/feature.js'
import { createRouteActionFeature } from './policies/route-action-feature.js'
import { createAccessFeature } from './policies/access.js'
import { createCorsFeature } from './policies/cors.js'
import { createApiKeyFeature } from './policies/api-key.js'
import { createBasicAuthFeature } from './policies/basic-auth.js'
import { createCompressFeature } from './policies/compress.js'
import { createHeaderTemplateFeature } from './policies/header-templates.js'
import { createForwardedPrefixFeature } from './policies/forwarded-prefix.js'

export interface BuiltInFeatureDeps {
  readonly settings: GatewaySettings
  readonly metrics: GatewayMetrics
  readonly registry: Registry
  readonly log: Logger
  readonly transport: Transport
  /** What the admin API looks per-gateway services up by. */
  readonly owner: object
  /** The rate-limit counter store (memory or Redis), built by the composition root's adapter. */
  readonly rateLimitStore: RateLimitStoreHandle
  /** Tuning of the JWT verifier (token size cap, JWKS fetch limits) for embedders and tests. */
  readonly jwtVerifier?: JwtVerifierOptions
  /** The gateway's event log (canary decisions are recorded there). */
  readonly events: EventLog
  /** A worker thread's canary controller reports outcomes here and decides nothing (controller.ts). */
  readonly canaryReport?: (reports: CanaryReport[]) => void
  /** A worker thread's view of the main thread's memory cache (src/cache/shared-store.ts). */
  readonly sharedCacheStore?: CacheStore
}

export function builtInFeatures(d: BuiltInFeatureDeps): Feature[] {
  // Shadow comparisons (mirror.compare) feed the canary's divergence gate.
  let comparisons: ((route: string, result: 'match' | 'status' | 'body') => void) | undefined
  return [
    createTracingFeature(),
    createAccessFeature(),
    createCorsFeature(),
    createRateLimitFeature({ log: d.log, registry: d.registry, rejected: d.metrics.rateLimitRejected, store: d.rateLimitStore }),
    createJwtFeature({ log: d.log, registry: d.registry, ...(d.jwtVerifier !== undefined ? { verifier: d.jwtVerifier } : {}) }),
    createApiKeyFeature(),
    createBasicAuthFeature(),
    createCompressFeature(),
    createCacheFeature({ settings: d.settings.cache, registry: d.registry, requests: d.metrics.cacheRequests, log: d.log, owner: d.owner, ...(d.sharedCacheStore !== undefined ? { sharedStore: d.sharedCacheStore } : {}) }),
    createMirrorFeature({ registry: d.registry, log: d.log, transport: d.transport, onComparison: (route, result) => comparisons?.(route, result) }),
    createCanaryFeature({
      registry: d.registry,
      log: d.log,
      events: d.events,
      owner: d.owner,
      ...(d.canaryReport !== undefined ? { report: d.canaryReport } : {}),
      comparisons: (l) => (comparisons = l),
    }),
    createForwardedPrefixFeature(),
    createHeaderTemplateFeature(),
    createRouteActionFeature(),
  ]
}
