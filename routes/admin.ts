/**
 * The admin listener: health, metrics, pools, reload, plus the feature endpoints registered
 * from routes/ (routes and splits, cache purge, explain, dashboard). Separate from the data
 * plane so it can bind to loopback and never be reachable by clients of the gateway.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { adminRefusal } from '../src/admin-guard.js'
import { bearerToken, generatedAdminToken, tokenMatches } from '../src/admin-token.js'
import { clientCodeOf, errorBody } from '../src/errors.js'
import type { AdminContext, AdminPort } from './admin-port.js'
import { adminActor } from './api-backends.js'
import { adminFeatures } from './features.js'

export async function buildAdmin(gateway: AdminPort): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: gateway.log.child({ listener: 'admin' }), logController: new LogController({ disableRequestLogging: true }), bodyLimit: 1024 * 1024 }) as unknown as FastifyInstance
  const ctx: AdminContext = {
    gateway,
    audit(action, detail) {
      gateway.log.info({ type: 'audit', action, ...detail }, `admin: ${action}`)
      // Runtime changes (split weights, backend states) reach the other instances of a fleet.
      if (action === 'route.split' || action.startsWith('backend')) gateway.runtimeChanged?.(action, detail)
    },
  }

  app.setErrorHandler((error, _req, reply) => {
    const err = error as { statusCode?: number; message: string }
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    reply.code(status).type('application/json; charset=utf-8').send(errorBody(status, status === 500 ? 'internal error' : err.message, status === 500 ? 'SWITCHYARD_INTERNAL' : clientCodeOf(err, status)))
  })
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).type('application/json; charset=utf-8').send(errorBody(404, `no admin endpoint ${req.method} ${req.url.split('?')[0]}`))
  })

  // An admin bound beyond loopback with no token configured gets one for this run, printed once.
  const initial = gateway.state.settings.admin
  const generated = initial === false || initial.token !== '' ? '' : generatedAdminToken(initial.host)
  if (generated !== '') {
    gateway.log.warn({ type: 'audit', action: 'admin-token-generated', adminToken: generated }, `admin.host ${(initial as { host: string }).host} is not loopback and admin.token is empty: generated a token for this run (Authorization: Bearer ${generated}); set admin.token to choose one`)
  }

  // Token on everything but GET /health (probes from orchestrators carry no secrets).
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const admin = gateway.state.settings.admin
    // Host, Origin and Content-Type first, token or not: DNS rebinding and cross-site calls (src/admin-guard.ts).
    if (admin !== false) {
      const h = request.headers
      const refusal = adminRefusal(
        {
          method: request.method,
          host: h.host,
          origin: h.origin,
          contentType: h['content-type'],
          hasBody: h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0'),
        },
        admin,
      )
      if (refusal !== undefined) {
        reply.code(refusal.status).type('application/json; charset=utf-8').send(errorBody(refusal.status, refusal.message))
        return reply
      }
    }
    const token = admin === false ? '' : admin.token !== '' ? admin.token : generated
    if (token === '') return
    if (request.method === 'GET' && (request.url === '/health' || request.url === '/health?deep=1')) {
      // The deep check answers without a token too (probes carry none), but names its
      // dependencies' details only to a caller holding the token.
      ;(request as { tokenOk?: boolean }).tokenOk = tokenMatches(bearerToken(request.headers.authorization) ?? '', token)
      return
    }
    // Readiness is probed by outer balancers and orchestrators, which carry no secrets either.
    if (request.method === 'GET' && request.url === '/ready') return
    // The dashboard's HTML shell holds no data; it asks for the token to call the API.
    if (request.method === 'GET' && request.url === '/') return
    const presented = bearerToken(request.headers.authorization)
    if (presented === undefined || !tokenMatches(presented, token)) {
      reply.header('www-authenticate', 'Bearer realm="switchyard-admin"')
      reply.code(401).type('application/json; charset=utf-8').send(errorBody(401, 'missing or invalid admin token'))
      return reply
    }
  })

  app.get<{ Querystring: { deep?: string } }>('/health', async (req, reply) => {
    if (req.query.deep === '1' && gateway.deepHealth !== undefined) {
      const deep = await gateway.deepHealth()
      const status = !gateway.serving ? 'starting' : deep.ok ? 'ok' : 'degraded'
      const token = gateway.state.settings.admin === false ? '' : gateway.state.settings.admin.token
      const detailed = token === '' || (req as { tokenOk?: boolean }).tokenOk === true
      const checks = detailed ? deep.checks : Object.fromEntries(Object.entries(deep.checks).map(([k, v]) => [k, { ok: v.ok }]))
      return reply.code(status === 'ok' ? 200 : 503).send({ status, checks })
    }
    if (!gateway.serving) return reply.code(503).send({ status: 'starting' })
    return { status: 'ok' }
  })

  // Readiness, apart from liveness (/health): 503 from SIGTERM or POST /api/drain until exit, so
  // an outer balancer or a VIP stops sending before the listeners close.
  app.get('/ready', async (_req, reply) => {
    if (gateway.ready) return { status: 'ready' }
    return reply.code(503).send({ status: gateway.draining ? 'draining' : 'starting' })
  })

  app.post('/api/drain', async (request) => {
    const started = gateway.drain('admin')
    const admin = gateway.state.settings.admin
    ctx.audit('drain', { started, ...adminActor(request, admin !== false && admin.token !== '') })
    return { status: 'draining' }
  })

  app.get('/metrics', async (_req, reply) => {
    // With worker threads: one view of the whole process (counters summed, histograms merged).
    if (gateway.metricsText !== undefined) {
      const m = await gateway.metricsText()
      reply.type(m.contentType)
      return m.body
    }
    const body = await gateway.metrics.registry.metrics()
    reply.type(gateway.metrics.registry.contentType)
    return body
  })

  // SPEC §5: each worker thread of the process (one line without `server.workers`).
  app.get('/api/workers', async () => (gateway.workers !== undefined ? gateway.workers() : []))

  // The SPEC's shape; the registry keeps it in one place.
  app.get('/api/pools', async () => gateway.pools.snapshot())

  // Layer-4 listeners: settings, open connections per pool, bytes in and out (docs/streams.md).
  app.get('/api/streams', async () => gateway.streams.snapshot())

  app.post('/api/reload', async (_req, reply) => {
    const result = await gateway.reload()
    ctx.audit('reload', { ok: result.ok })
    if (result.ok) return { reloaded: true, version: result.version }
    return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: 'configuration rejected; the running configuration keeps serving', reloaded: false, errors: result.problems })
  })

  for (const feature of adminFeatures) await app.register(feature.plugin, { ctx } as never)
  return app
}
