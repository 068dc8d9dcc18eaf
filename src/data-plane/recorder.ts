/**
 * One JSON line per request, written when the response has ended: enough to explain every
 * routing decision (route, pool, backend, attempts, fallback, cache result) with status, bytes
 * and timings. The same moment feeds the request metrics, the per-backend series and a canary
 * route's outcome observer.
 *
 * Every answer the gateway gives is recorded here: proxied responses and the gateway's own
 * answers (src/data-plane/handler.ts calls `request` when the response closes), a WebSocket
 * handshake (the tunnel writes it straight to the socket and reports it), a parser-level
 * refusal (no request object exists: `refusal`), and a request the client abandoned before
 * its answer (status 499, `SWITCHYARD_CLIENT_CLOSED`, as NGINX logs it).
 *
 * The line is written by src/log/access-log.ts (hand-built JSON, buffered asynchronous writes)
 * from the `log.access` settings the gateway started with: to `log.access.file`, or else where
 * the gateway's logger writes. The gateway makes one recorder and every listener (plain, TLS)
 * records through it; the layer-4 streams write their lines to the same access log.
 */
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { GatewayHandle } from '../gateway-handle.js'
import type { RequestContext } from '../request-context.js'
import type { ProxyRequest } from '../proxy/request.js'
import { createAccessLog, type AccessEntry, type AccessLog } from '../log/access-log.js'
import { errorCodeOf } from '../log/error-code.js'
import { accessSinkFor, bindingsOf } from '../log/logger.js'
import { unmapIPv4 } from '../net/client-ip.js'
import { backendMetrics, backendRecorder, statusClass } from './backend-metrics.js'
import { ChildCache } from '../metrics/fast-series.js'

/** Records answers of one gateway: metrics and the access line. */
export interface AnswerRecorder {
  /**
   * A request that was answered (`status`, and `code` when the gateway answered with an error
   * itself; else the code set with setErrorCode on the Node response is used). `ctx` is
   * undefined for a request refused before its context existed.
   */
  request(request: ProxyRequest, ctx: RequestContext | undefined, res: ServerResponse, status: number, code?: string): void
  /** An answer written straight to a client socket before any request existed (parser refusals). */
  refusal(socket: Socket, status: number, code: string): void
  /** The access log, for the other writers (layer-4 streams); undefined when off. */
  readonly access: AccessLog | undefined
  /** Flush and close the access log (after every writer has stopped). */
  close(): Promise<void>
}

const kReadMark = Symbol('switchyard.bytesReadMark')
const kWrittenMark = Symbol('switchyard.bytesWrittenMark')
type MarkedSocket = Socket & { [kReadMark]?: number; [kWrittenMark]?: number }

/** The gateway's recorder, with the access log its `log.access` settings ask for. */
export function createAnswerRecorder(gw: GatewayHandle): AnswerRecorder {
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
  const m = gw.metrics
  const perBackend = backendRecorder(backendMetrics(m.registry, () => gw.state.pools))
  // One entry reused for every line: write() is synchronous, so no request sees another's fields.
  const entry: AccessEntry = {}
  // Pre-bound children found through nested maps by label value: no key string, no label object
  // per request. Bounded: route and pool names from the config, methods Node's parser accepts,
  // status codes.
  const reqChildren = new ChildCache((route, pool, status, method) => m.requests.labels(route!, pool!, status!, method!))
  const durChildren = new ChildCache((route, pool, cls) => m.duration.labels(route!, pool!, cls!))
  const reqBytes = new ChildCache((route) => m.requestBytes.labels(route!))
  const resBytes = new ChildCache((route) => m.responseBytes.labels(route!))
  const errChildren = new ChildCache((code) => m.errors.labels(code!))
  const count = (route: string, pool: string, status: number, method: string, ms: number, code: string | undefined): void => {
    reqChildren.get4(route, pool, status, method).inc()
    durChildren.get3(route, pool, statusClass(status)).observe(ms / 1000)
    if (code !== undefined) errChildren.get1(code).inc()
  }
  const bytes = (route: string, read: number, written: number): void => {
    if (read > 0) reqBytes.get1(route).inc(read)
    if (written > 0) resBytes.get1(route).inc(written)
  }
  /**
   * Bytes of one HTTP/1 exchange on the wire: what the connection read and wrote since the
   * previous answer on it (request line, headers, body; status line, headers, body). Pipelined
   * requests can shift bytes between neighbours; the totals stay exact. HTTP/2 streams share one
   * connection, so there only the declared request body and the counted response body are known.
   */
  const wireBytesOf = (route: string, socket: MarkedSocket): void => {
    const read = socket.bytesRead
    const written = socket.bytesWritten
    bytes(route, read - (socket[kReadMark] ?? 0), written - (socket[kWrittenMark] ?? 0))
    socket[kReadMark] = read
    socket[kWrittenMark] = written
  }

  return {
    access,
    close: async () => access?.close(),
    request(request, ctx, res, status, code = errorCodeOf(res)) {
      // Incremented where the context is created; a request refused before that never counted.
      if (ctx !== undefined) {
        m.inFlight.dec()
        perBackend(ctx, status)
      }
      const route = ctx?.route?.name ?? '-'
      const pool = ctx?.servedByPool ?? ctx?.pool ?? '-'
      const elapsed = ctx ? performance.now() - ctx.startedAt : 0
      const totalMs = Number.isFinite(elapsed) ? elapsed : 0
      count(route, pool, status, request.method, totalMs, code)
      // Canary routes only (a stage set it): the outcome feeds the cohort's window.
      if (ctx?.observe !== undefined) ctx.observe(ctx, status, totalMs)
      const raw = request.raw
      if (raw.httpVersionMajor === 1 && raw.socket) wireBytesOf(route, raw.socket as MarkedSocket)
      else bytes(route, Number(request.headers['content-length'] ?? 0) || 0, ctx?.responseBytes ?? 0)
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
      wireBytesOf('-', socket as MarkedSocket)
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

function numberOr(v: unknown): number | undefined {
  return v === undefined ? undefined : Number(v)
}

