/**
 * One JSON line per request, written when the response has ended: enough to explain every
 * routing decision (route, pool, backend, attempts, fallback, cache result) with status, bytes
 * and timings. The same moment feeds the request metrics.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import '../src/gateway-handle.js'
import { kContext } from '../src/request-context.js'

async function accessLogPlugin(app: FastifyInstance): Promise<void> {
  const gw = app.switchyard
  const log = gw.log
  const m = gw.metrics

  app.addHook('onRequest', async () => {
    m.inFlight.inc()
  })

  app.addHook('onResponse', async (request, reply) => {
    m.inFlight.dec()
    const ctx = request[kContext]
    const status = reply.statusCode
    const route = ctx?.route?.name ?? '-'
    const pool = ctx?.servedByPool ?? ctx?.pool ?? '-'
    const totalMs = ctx ? performance.now() - ctx.startedAt : reply.elapsedTime
    m.requests.inc({ route, pool, status: String(status) })
    m.duration.observe({ route }, totalMs / 1000)
    log.info(
      {
        type: 'access',
        reqId: ctx?.id,
        method: request.method,
        path: ctx?.path || request.url,
        host: request.headers.host,
        client: ctx?.clientIp,
        route,
        pool,
        splitPool: ctx?.pool,
        backend: ctx?.backend,
        attempts: ctx?.attempts ?? 0,
        fallback: ctx?.fallbackUsed || undefined,
        cache: ctx?.cacheResult,
        status,
        bytes: ctx?.responseBytes ?? numberOr(reply.getHeader('content-length')),
        upstreamMs: ctx?.upstreamMs === undefined ? undefined : Math.round(ctx.upstreamMs * 100) / 100,
        totalMs: Math.round(totalMs * 100) / 100,
      },
      'request',
    )
  })
}

function numberOr(v: unknown): number | undefined {
  return v === undefined ? undefined : Number(v)
}

export default fp(accessLogPlugin, { name: 'switchyard-access-log', fastify: '5.x' })
