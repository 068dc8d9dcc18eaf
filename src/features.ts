/**
 * The data-plane feature plugins, in the order their hooks run between request-context and
 * proxy. Order matters: a rate-limited request must cost neither a JWT verification nor an
 * upstream call; the cache sits closest to the proxy.
 */
import type { FastifyPluginAsync, FastifyPluginCallback } from 'fastify'
import cachePlugin from '../plugins/cache.js'
import jwtAuthPlugin from '../plugins/jwt-auth.js'
import backendMetricsPlugin from '../plugins/backend-metrics.js'
import mirrorPlugin from '../plugins/mirror.js'
import rateLimitPlugin from '../plugins/rate-limit.js'
import tracingPlugin from '../plugins/tracing.js'

export interface DataPlaneFeature {
  readonly name: string
  readonly plugin: FastifyPluginAsync | FastifyPluginCallback
}

export const dataPlaneFeatures: readonly DataPlaneFeature[] = [
  // First of all: even a request refused by a later stage has its trace id in the access log.
  { name: 'tracing', plugin: tracingPlugin },
  // First: a limited request costs no verification and no upstream call (claim keys check after jwt).
  { name: 'rate-limit', plugin: rateLimitPlugin },
  { name: 'jwt-auth', plugin: jwtAuthPlugin },
  // Before mirror: its forward middleware wraps the mirror's, so cache hits are not mirrored.
  { name: 'cache', plugin: cachePlugin },
  // Last: closest to the proxy, so only requests that really go upstream are mirrored (not cache hits).
  { name: 'mirror', plugin: mirrorPlugin },
  // Per-backend response series (an onResponse hook: its position does not matter).
  { name: 'backend-metrics', plugin: backendMetricsPlugin },
]
