/**
 * `GET /` on the admin listener: the dashboard page (routes/dashboard/page.ts). Served without
 * the admin token: it is a static shell with no data in it; the page asks for the token and
 * sends it with every API call (GET /api/stats, PUT /api/routes/:name/split,
 * POST /api/cache/purge). routes/admin.ts exempts exactly `GET /` from the token check.
 */
import type { FastifyPluginAsync } from 'fastify'
import type { AdminContext, AdminFeature } from './admin-port.js'
import { dashboardCsp, dashboardHtml } from './dashboard/page.js'

const plugin: FastifyPluginAsync<{ ctx: AdminContext }> = async (app) => {
  app.get('/', async (_req, reply) => {
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', dashboardCsp)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-store')
    return dashboardHtml
  })
}

export const dashboardAdminFeature: AdminFeature = { name: 'dashboard', plugin }
