/**
 * Admin endpoints contributed by features, each a Fastify plugin receiving `{ ctx: AdminContext }`,
 * registered in this order by routes/admin.ts.
 */
import type { FastifyPluginAsync } from 'fastify'
import { cacheAdminFeature } from './api-cache.js'
import { explainAdminFeature } from './api-explain.js'
import { routesAdminFeature } from './api-routes.js'

export interface AdminFeature {
  readonly name: string
  readonly plugin: FastifyPluginAsync<{ ctx: import('./admin.js').AdminContext }>
}

export const adminFeatures: readonly AdminFeature[] = [routesAdminFeature, cacheAdminFeature, explainAdminFeature]
