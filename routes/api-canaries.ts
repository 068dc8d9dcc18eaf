/**
 * Admin endpoints of progressive delivery (src/canary/):
 *   GET  /api/canaries                         → one entry per canary route (state, step, weights, both cohorts' figures, history)
 *   GET  /api/canaries/:route                  → that entry; 404 SWITCHYARD_CANARY_UNKNOWN
 *   POST /api/canaries/:route/pause|resume|promote|rollback → 200 and the entry; 404; 409 SWITCHYARD_CANARY_CONFLICT;
 *        503 SWITCHYARD_CANARY_NO_LEADER (an etcd fleet's follower that cannot reach the leader)
 *
 * Every action is audited and recorded in the event log by the controller.
 */
import type { FastifyPluginAsync } from 'fastify'
import { UnknownCanaryError } from '../src/canary/errors.js'
import { canaryServiceOf, type CanaryAdminAction, type CanaryService } from '../src/canary/service.js'
import type { AdminContext, AdminFeature } from './admin-port.js'

const ACTIONS: readonly CanaryAdminAction[] = ['pause', 'resume', 'promote', 'rollback']

const routeParams = { type: 'object', properties: { route: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['route'] } as const

export const canariesAdminFeature: AdminFeature = {
  name: 'canaries',
  plugin: (async (app, { ctx }) => {
    const service = (): CanaryService | undefined => canaryServiceOf(ctx.gateway.handle)
    app.get('/api/canaries', async () => service()?.list() ?? [])
    app.get<{ Params: { route: string } }>('/api/canaries/:route', { schema: { params: routeParams } }, async (request) => {
      const view = service()?.get(request.params.route)
      if (view === undefined) throw new UnknownCanaryError(request.params.route)
      return view
    })
    for (const action of ACTIONS) {
      app.post<{ Params: { route: string } }>(`/api/canaries/:route/${action}`, { schema: { params: routeParams } }, async (request) => {
        const s = service()
        if (s === undefined) throw new UnknownCanaryError(request.params.route)
        const view = await s.act(request.params.route, action)
        ctx.audit(`canary.${action}`, { route: request.params.route, state: view.state, weight: view.weight })
        return view
      })
    }
  }) as FastifyPluginAsync<{ ctx: AdminContext }>,
}
