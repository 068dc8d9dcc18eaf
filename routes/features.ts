/**
 * Admin endpoints contributed by features (AdminFeature, routes/admin-port.ts), registered in this order by routes/admin.ts.
 */
import type { AdminFeature } from './admin-port.js'
import { cacheAdminFeature } from './api-cache.js'
import { canariesAdminFeature } from './api-canaries.js'
import { dashboardAdminFeature } from './dashboard.js'
import { explainAdminFeature } from './api-explain.js'
import { statsAdminFeature } from './api-stats.js'
import { routesAdminFeature } from './api-routes.js'
import { backendsAdminFeature } from './api-backends.js'
import { historyAdminFeature } from './api-history.js'

export const adminFeatures: readonly AdminFeature[] = [routesAdminFeature, backendsAdminFeature, canariesAdminFeature, cacheAdminFeature, explainAdminFeature, statsAdminFeature, historyAdminFeature, dashboardAdminFeature]
