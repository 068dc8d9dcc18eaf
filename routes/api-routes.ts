/**
 * Admin endpoints for routes and their splits:
 *   GET /api/routes                → [{ name, match, split: [{ pool, weight }], sticky?, override?, mirror? }]
 *   PUT /api/routes/:name/split    → body {"weights": {pool: int}} → 200 and the route
 *
 * A weight change builds a new immutable selector and assigns it to the route of the running
 * RuntimeState in one step: a request sees either the old or the new weights. It holds until
 * the next reload, which compiles the file again (the file stays the source of truth).
 */
import { Ajv } from 'ajv'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { HeaderMatch, RouteMatchSettings } from '../src/config/model.js'
import type { RuntimeState } from '../src/runtime-state.js'
import { UnknownRouteError } from '../src/routing/errors.js'
import { describeKeySource, withWeights } from '../src/routing/split.js'
import type { CompiledRoute } from '../src/routing/types.js'
import type { AdminContext, AdminFeature } from './admin-port.js'

export interface ApiRoutesOptions {
  /** The running configuration (read per call: a reload replaces it). */
  getState(): RuntimeState
  /** Records an admin action (who changed what); the admin server logs it. */
  audit(event: string, detail: object): void
}

export interface RouteView {
  name: string
  match: Record<string, unknown>
  split: { pool: string; weight: number }[]
  sticky?: string
  override?: string
  mirror?: { pool: string; percent: number }
}

function headerMatchView(m: HeaderMatch): unknown {
  switch (m.kind) {
    case 'exact':
      return m.value
    case 'regex':
      return { regex: m.source }
    case 'present':
      return { present: m.present }
  }
}

/** The match conditions as a configuration file spells them. */
export function matchView(m: RouteMatchSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (m.path !== undefined) out.path = m.path
  if (m.pathExact !== undefined) out.pathExact = m.pathExact
  if (m.pathRegex !== undefined) out.pathRegex = m.pathRegex
  if (m.host !== undefined) out.host = m.host
  if (m.methods !== undefined) out.methods = [...m.methods]
  if (m.headers !== undefined) {
    const headers: Record<string, unknown> = {}
    for (const [name, hm] of Object.entries(m.headers)) headers[name] = headerMatchView(hm)
    out.headers = headers
  }
  return out
}

export function routeView(route: CompiledRoute): RouteView {
  const s = route.settings
  const view: RouteView = {
    name: route.name,
    match: matchView(s.match),
    split: route.split.targets.map((t) => ({ pool: t.pool, weight: t.weight })),
  }
  if (route.split.sticky !== undefined) view.sticky = describeKeySource(route.split.sticky)
  if (s.override !== undefined) view.override = s.override
  if (s.mirror !== undefined) view.mirror = { pool: s.mirror.pool, percent: s.mirror.percent }
  return view
}

const splitBodySchema = {
  type: 'object',
  required: ['weights'],
  additionalProperties: false,
  properties: {
    weights: {
      type: 'object',
      minProperties: 1,
      additionalProperties: { type: 'integer', minimum: 0 },
    },
  },
} as const

// A validator without Fastify's default type coercion: "70" or true is not a weight.
const strictAjv = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: false, removeAdditional: false })

export default async function apiRoutes(app: FastifyInstance, opts: ApiRoutesOptions): Promise<void> {
  app.get('/api/routes', async () => opts.getState().routes.routes.map(routeView))

  app.put<{ Params: { name: string }; Body: { weights: Record<string, number> } }>(
    '/api/routes/:name/split',
    {
      schema: { body: splitBodySchema, params: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } },
      validatorCompiler: ({ schema }) => strictAjv.compile(schema),
    },
    async (request) => {
      const { name } = request.params
      const route = opts.getState().routes.get(name)
      if (route === undefined) throw new UnknownRouteError(name)
      const before = route.split
      // Throws a typed 400 (unknown pool, bad weights) before anything changes.
      const next = withWeights(before, request.body.weights)
      route.split = next
      opts.audit('route.split', {
        route: name,
        before: before.targets.map((t) => ({ pool: t.pool, weight: t.weight })),
        after: next.targets.map((t) => ({ pool: t.pool, weight: t.weight })),
      })
      return routeView(route)
    },
  )
}

/** The admin feature entry (routes/features.ts registers admin plugins with `{ ctx }`). */
export const routesAdminFeature: AdminFeature = {
  name: 'routes',
  plugin: (async (app, { ctx }) => {
    await apiRoutes(app, {
      getState: () => ctx.gateway.state,
      audit: (event, detail) => ctx.audit(event, detail as Record<string, unknown>),
    })
  }) as FastifyPluginAsync<{ ctx: AdminContext }>,
}
