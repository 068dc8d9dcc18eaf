/**
 * Admin endpoints contributed by features, each a Fastify plugin receiving `{ ctx: AdminContext }`,
 * registered in this order by routes/admin.ts.
 */
import type { FastifyPluginAsync } from 'fastify'
import { cacheAdminFeature } from './api-cache.js'
import { dashboardAdminFeature } from './dashboard.js'
import { explainAdminFeature } from './api-explain.js'
import { statsAdminFeature } from './api-stats.js'
import { routesAdminFeature } from './api-routes.js'

export interface AdminFeature {
  readonly name: string
  readonly plugin: FastifyPluginAsync<{ ctx: import('./admin.js').AdminContext }>
}

export const adminFeatures: readonly AdminFeature[] = [routesAdminFeature, cacheAdminFeature, explainAdminFeature, statsAdminFeature, dashboardAdminFeature]
