/**
 * One JSON line per request, written when the response has ended: enough to explain every
 * routing decision (route, pool, backend, attempts, fallback, cache result) with status, bytes
 * and timings. The same moment feeds the request metrics.
 *
 * Every answer the gateway gives is recorded here, also those Fastify's onResponse never sees:
 * a WebSocket handshake (the tunnel writes it straight to the socket), a malformed-escape 400
 * (Fastify's router refuses it before any hook) and a parser-level refusal (no request object
 * exists). Those call the gateway's recorder (`answerRecorder`) themselves.
 *
 * The line is written by src/log/access-log.ts (hand-built JSON, buffered asynchronous writes)
 * from the `log.access` settings the gateway started with: to `log.access.file`, or else where
 * the gateway's logger writes. Every data plane of one gateway (plain, TLS) shares one recorder,
 * closed when the last of them closes.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { GatewayHandle } from '../src/gateway-handle.js'
import { kContext } from '../src/request-context.js'
import { createAccessLog, type AccessEntry, type AccessLog } from '../src/log/access-log.js'
import { errorCodeOf } from '../src/log/error-code.js'
import { accessSinkFor, bindingsOf } from '../src/log/logger.js'
import { unmapIPv4 } from '../src/net/client-ip.js'

/** Records answers of one gateway: metrics and the access line. */
export interface AnswerRecorder {
  /**
   * A request that was answered (`status`, and `code` when the gateway answered with an error
   * itself; else the code set with setErrorCode on the Node response is used).
   */
  request(request: FastifyRequest, res: ServerResponse, status: number, code?: string): void
  /** An answer written straight to a client socket before any request existed (parser refusals). */
  refusal(socket: Socket, status: number, code: string): void
}

interface Shared {
  readonly recorder: AnswerRecorder
  readonly access: AccessLog | undefined
  users: number
}

const shared = new WeakMap<GatewayHandle, Shared>()

/** The gateway's recorder while a data plane is open, else undefined. */
export function answerRecorder(gw: GatewayHandle): AnswerRecorder | undefined {
  return shared.get(gw)?.recorder
}

const CLASSES = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'] as const
const kReadMark = Symbol('switchyard.bytesReadMark')
const kWrittenMark = Symbol('switchyard.bytesWrittenMark')
type MarkedSocket = Socket & { [kReadMark]?: number; [kWrittenMark]?: number }

/**
 * Bytes of one HTTP/1 exchange on the wire: what the connection read and wrote since the
 * previous answer on it (request line, headers, body; status line, headers, body). Pipelined
 * requests can shift bytes between neighbours; the totals stay exact. HTTP/2 streams share one
 * connection, so there only the declared request body and the counted response body are known.
 */
function wireBytes(socket: MarkedSocket): [number, number] {
  const read = socket.bytesRead
  const written = socket.bytesWritten
  const r = read - (socket[kReadMark] ?? 0)
  const w = written - (socket[kWrittenMark] ?? 0)
  socket[kReadMark] = read
  socket[kWrittenMark] = written
  return [r, w]
}

function createRecorder(gw: GatewayHandle, access: AccessLog | undefined): AnswerRecorder {
  const m = gw.metrics
  // One entry reused for every line: write() is synchronous, so no request sees another's fields.
  const entry: AccessEntry = {}
  // prom-client hashes label objects on every inc(); children cached per label set avoid that.
  // Keys are bounded: route and pool names from the config, methods Node's parser accepts, status codes.
  const reqChildren = new Map<string, ReturnType<typeof m.requests.labels>>()
  const durChildren = new Map<string, ReturnType<typeof m.duration.labels>>()
  const byRoute = new Map<string, { readonly reqBytes: ReturnType<typeof m.requestBytes.labels>; readonly resBytes: ReturnType<typeof m.responseBytes.labels> }>()
  const errChildren = new Map<string, ReturnType<typeof m.errors.labels>>()
  const count = (route: string, pool: string, status: number, method: string, ms: number, code: string | undefined): void => {
    const key = `${route}\u0000${pool}\u0000${status}\u0000${method}`
    let c = reqChildren.get(key)
    if (c === undefined) reqChildren.set(key, (c = m.requests.labels(route, pool, String(status), method)))
    c.inc()
    const cls = CLASSES[Math.min(5, Math.max(1, Math.floor(status / 100)))]!
    const dkey = `${route}\u0000${pool}\u0000${cls}`
    let d = durChildren.get(dkey)
    if (d === undefined) durChildren.set(dkey, (d = m.duration.labels(route, pool, cls)))
    d.observe(ms / 1000)
    if (code !== undefined) {
      let e = errChildren.get(code)
      if (e === undefined) errChildren.set(code, (e = m.errors.labels(code)))
      e.inc()
    }
  }
  const bytes = (route: string, read: number, written: number): void => {
    let b = byRoute.get(route)
    if (b === undefined) byRoute.set(route, (b = { reqBytes: m.requestBytes.labels(route), resBytes: m.responseBytes.labels(route) }))
    if (read > 0) b.reqBytes.inc(read)
    if (written > 0) b.resBytes.inc(written)
  }

  return {
    request(request, res, status, code = errorCodeOf(res)) {
      const ctx = request[kContext] as (typeof request)[typeof kContext] | null | undefined
      // Incremented where the context is created (the first hook); a request refused before that never counted.
      if (ctx) m.inFlight.dec()
      const route = ctx?.route?.name ?? '-'
      const pool = ctx?.servedByPool ?? ctx?.pool ?? '-'
      const elapsed = ctx ? performance.now() - ctx.startedAt : 0
      const totalMs = Number.isFinite(elapsed) ? elapsed : 0
      count(route, pool, status, request.method, totalMs, code)
      // Canary routes only (a stage set it): the outcome feeds the cohort's window.
      if (ctx?.observe !== undefined) ctx.observe(ctx, status, totalMs)
      const raw = request.raw
      if (raw.httpVersionMajor === 1 && raw.socket) {
        const [read, written] = wireBytes(raw.socket as MarkedSocket)
        bytes(route, read, written)
      } else bytes(route, Number(request.headers['content-length'] ?? 0) || 0, ctx?.responseBytes ?? 0)
      // Spans are built now, the answer written: never between arrival and answer.
      if (ctx?.span !== undefined) {
        ctx.span.finish({ method: request.method, path: ctx.path || request.url, scheme: ctx.protocol, status, route, pool, client: ctx.clientIp, requestId: ctx.id, code })
        ctx.span = undefined
      }
      if (access === undefined || !access.sampled()) return
      entry.reqId = ctx?.id
      entry.traceId = ctx?.traceId
      entry.method = request.method
      entry.path = ctx?.path || request.url
      entry.host = request.headers.host
      entry.client = ctx?.clientIp ?? unmapIPv4(raw.socket?.remoteAddress ?? '')
      entry.route = route
      entry.pool = pool
      entry.splitPool = ctx?.pool
      entry.backend = ctx?.backend
      entry.attempts = ctx?.attempts ?? 0
      entry.fallback = ctx?.fallbackUsed || undefined
      entry.cache = ctx?.cacheResult
      entry.consumer = ctx?.consumer
      entry.status = status
      entry.code = code
      entry.bytes = ctx?.responseBytes ?? numberOr(res.getHeader('content-length'))
      entry.upstreamMs = ctx?.upstreamMs === undefined ? undefined : Math.round(ctx.upstreamMs * 100) / 100
      entry.totalMs = Math.round(totalMs * 100) / 100
      access.write(entry)
    },
    refusal(socket, status, code) {
      count('-', '-', status, '-', 0, code)
      const [read, written] = wireBytes(socket as MarkedSocket)
      bytes('-', read, written)
      if (access === undefined || !access.sampled()) return
      for (const k of Object.keys(entry) as (keyof AccessEntry)[]) entry[k] = undefined
      entry.client = unmapIPv4(socket.remoteAddress ?? '')
      entry.route = '-'
      entry.pool = '-'
      entry.status = status
      entry.code = code
      access.write(entry)
    },
  }
}

function acquire(gw: GatewayHandle): Shared {
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
    shared.set(gw, (entry = { recorder: createRecorder(gw, access), access, users: 0 }))
  }
  entry.users++
  return entry
}

/**
 * The access log of `gw`'s data planes for another writer (the layer-4 streams), held open until
 * `releaseAccessLog`: streams may drain after the HTTP listeners have closed. Undefined when off.
 */
export function holdAccessLog(gw: GatewayHandle): AccessLog | undefined {
  return acquire(gw).access
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
  const { recorder } = acquire(gw)
  app.addHook('onClose', async () => release(gw))
  app.addHook('onResponse', (request, reply, done) => {
    done()
    recorder.request(request, reply.raw, reply.statusCode)
  })
}

function numberOr(v: unknown): number | undefined {
  return v === undefined ? undefined : Number(v)
}

export default fp(accessLogPlugin, { name: 'switchyard-access-log', fastify: '5.x' })
