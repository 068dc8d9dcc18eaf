/**
 * One JSON line per request, written when the response has ended: enough to explain every
 * routing decision (route, pool, backend, attempts, fallback, cache result) with status, bytes
 * and timings. The same moment feeds the request metrics.
 *
 * The line is written by src/log/access-log.ts (hand-built JSON, buffered asynchronous writes)
 * from the `log.access` settings the gateway started with: to `log.access.file`, or else where
 * the gateway's logger writes. Every data plane of one gateway (plain, TLS) shares one writer,
 * closed when the last of them closes.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { GatewayHandle } from '../src/gateway-handle.js'
import { kContext } from '../src/request-context.js'
import { createAccessLog, type AccessEntry, type AccessLog } from '../src/log/access-log.js'
import { accessSinkFor, bindingsOf } from '../src/log/logger.js'

const shared = new WeakMap<GatewayHandle, { readonly access: AccessLog | undefined; users: number }>()

function acquire(gw: GatewayHandle): AccessLog | undefined {
  let entry = shared.get(gw)
  if (entry === undefined) {
    const settings = gw.state.settings.log?.access ?? { enabled: true, sample: 1 }
    const sink = settings.file === undefined ? accessSinkFor(gw.log) : undefined
    const access =
      sink === null
        ? undefined
        : createAccessLog(settings, {
            ...(sink === undefined ? {} : { sink }),
            bindings: bindingsOf(gw.log),
            onError: (err) => gw.log.error({ err, file: settings.file }, 'access log: write failed; further errors are not logged'),
          })
    shared.set(gw, (entry = { access, users: 0 }))
  }
  entry.users++
  return entry.access
}

/**
 * The access log of `gw`'s data planes for another writer (the layer-4 streams), held open until
 * `releaseAccessLog`: streams may drain after the HTTP listeners have closed. Undefined when off.
 */
export function holdAccessLog(gw: GatewayHandle): AccessLog | undefined {
  return acquire(gw)
}

export function releaseAccessLog(gw: GatewayHandle): Promise<void> {
  return release(gw)
}

async function release(gw: GatewayHandle): Promise<void> {
  const entry = shared.get(gw)
  if (entry === undefined || --entry.users > 0) return
  shared.delete(gw)
  await entry.access?.close()
}

async function accessLogPlugin(app: FastifyInstance): Promise<void> {
  const gw = app.switchyard
  const m = gw.metrics
  const access = acquire(gw)
  app.addHook('onClose', async () => release(gw))
  // One entry reused for every line: write() is synchronous, so no request sees another's fields.
  const entry: AccessEntry = {}
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
    // Canary routes only (a stage set it): the outcome feeds the cohort's window.
    if (ctx?.observe !== undefined) ctx.observe(ctx, status, totalMs)
    if (access === undefined || !access.sampled()) return
    entry.reqId = ctx?.id
    entry.traceId = ctx?.traceId
    entry.method = request.method
    entry.path = ctx?.path || request.url
    entry.host = request.headers.host
    entry.client = ctx?.clientIp
    entry.route = route
    entry.pool = pool
    entry.splitPool = ctx?.pool
    entry.backend = ctx?.backend
    entry.attempts = ctx?.attempts ?? 0
    entry.fallback = ctx?.fallbackUsed || undefined
    entry.cache = ctx?.cacheResult
    entry.status = status
    entry.bytes = ctx?.responseBytes ?? numberOr(reply.getHeader('content-length'))
    entry.upstreamMs = ctx?.upstreamMs === undefined ? undefined : Math.round(ctx.upstreamMs * 100) / 100
    entry.totalMs = Math.round(totalMs * 100) / 100
    access.write(entry)
  })
}

function numberOr(v: unknown): number | undefined {
  return v === undefined ? undefined : Number(v)
}

export default fp(accessLogPlugin, { name: 'switchyard-access-log', fastify: '5.x' })
