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
  // prom-client hashes label objects on every inc(); children cached per label set avoid that.
  // Keys are bounded: route and pool names from the config, status codes.
  const reqChildren = new Map<string, ReturnType<typeof m.requests.labels>>()
  const durChildren = new Map<string, ReturnType<typeof m.duration.labels>>()
  const requestsChild = (route: string, pool: string, status: number) => {
    const key = `${route}\u0000${pool}\u0000${status}`
    let c = reqChildren.get(key)
    if (c === undefined) reqChildren.set(key, (c = m.requests.labels(route, pool, String(status))))
    return c
  }
  const durationChild = (route: string) => {
    let c = durChildren.get(route)
    if (c === undefined) durChildren.set(route, (c = m.duration.labels(route)))
    return c
  }

  app.addHook('onResponse', (request, reply, done) => {
    done()
    const ctx = request[kContext]
    // Incremented where the context is created (the first hook); a request refused before that never counted.
    if (ctx) m.inFlight.dec()
    const status = reply.statusCode
    const route = ctx?.route?.name ?? '-'
    const pool = ctx?.servedByPool ?? ctx?.pool ?? '-'
    const totalMs = ctx ? performance.now() - ctx.startedAt : reply.elapsedTime
    requestsChild(route, pool, status).inc()
    durationChild(route).observe(totalMs / 1000)
    if (!log.isLevelEnabled('info')) return
    log.info(
      {
        type: 'access',
        reqId: ctx?.id,
        traceId: ctx?.traceId,
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
