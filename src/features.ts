/**
 * The data-plane feature plugins, in the order their hooks run between request-context and
 * proxy. Order matters: a rate-limited request must cost neither a JWT verification nor an
 * upstream call; the cache sits closest to the proxy.
 */
import type { FastifyPluginAsync, FastifyPluginCallback } from 'fastify'
import mirrorPlugin from '../plugins/mirror.js'

export interface DataPlaneFeature {
  readonly name: string
  readonly plugin: FastifyPluginAsync | FastifyPluginCallback
}

export const dataPlaneFeatures: readonly DataPlaneFeature[] = [
  // Last: closest to the proxy, so only requests that really go upstream are mirrored (not cache hits).
  { name: 'mirror', plugin: mirrorPlugin },
]
