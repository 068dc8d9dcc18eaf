/**
 * The data plane on Node's own HTTP servers: the `request` and `upgrade` listeners every data
 * listener (plain, TLS, h2c) attaches. No framework sits between the socket and the compiled
 * per-route pipelines (src/pipeline/): one Exchange object per request, admission (context,
 * limits, route match), the route's stages and pool decision, then its forward chain, with the
 * upstream's answer written straight to Node's response (one header object, one writeHead, the
 * body piped). Every answer, the gateway's own included, is recorded once when the response
 * closes (src/data-plane/recorder.ts).
 *
 * Why not a framework here: the catch-all route over a swappable table needs nothing of a
 * router, every listener must run exactly the same thing (no per-listener app to guard), and
 * Fastify's per-request Request/Reply objects and hook runner cost CPU on every request
 * (docs/benchmarks.md). The admin API (routes/) stays on Fastify.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { ServerResponse as NodeServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { clientCodeOf, errorBody } from '../errors.js'
import type { GatewayHandle } from '../gateway-handle.js'
import { errorCodeOf, setErrorCode } from '../log/error-code.js'
import { continueIfExpected } from '../net/expect-continue.js'
import { isGatewayAnswer, type GatewayAnswer } from '../pipeline/answer.js'
import { runStages } from '../pipeline/pipeline.js'
import { routePlan } from '../proxy/forward.js'
import { countGrpcStatus } from '../proxy/grpc-metrics.js'
import { isGrpc, sendGrpcError, writeGrpcResponse } from '../proxy/grpc.js'
import { mergeHeaders, writeResponse } from '../proxy/respond.js'
import type { UpstreamResponse } from '../proxy/types.js'
import { isUpgrade, markUpgrade, tunnelUpgrade, type TunnelObserver } from '../proxy/websocket.js'
import type { RequestContext } from '../request-context.js'
import { admit, endTurn, queueOf, startTurn, waitTurn } from './admission.js'
import { Exchange } from './exchange.js'
import type { AnswerRecorder } from './recorder.js'

export interface DataPlaneOptions {
  readonly handle: GatewayHandle
  /** The gateway's one recorder, shared by every listener. */
  readonly recorder: AnswerRecorder
  /** How requests reach this listener. */
  readonly protocol: 'http' | 'https'
  /**
   * Runs once a request is admitted, before the route's stages: what this listener alone knows
   * (the TLS listener's verified client certificate for the upstream).
   */
  readonly enrich?: (request: IncomingMessage, ctx: RequestContext) => void
}

export interface DataPlane {
  /** The server's `request` listener. */
  readonly request: (req: IncomingMessage, res: ServerResponse) => void
  /** The server's `upgrade` listener (WebSocket handshakes run admission and stages like any request). */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  /** Set when the listener closes: new requests get 503 and `Connection: close`. */
  closing: boolean
  /** Upgraded sockets still open (a shutdown ends them; they left the server's connection tracking). */
  readonly tunnels: ReadonlySet<Duplex>
}

const kExchange = Symbol('switchyard.exchange')
type Tracked = ServerResponse & { [kExchange]?: Exchange }

const JSON_TYPE = 'application/json; charset=utf-8'
const SHUTTING_DOWN = errorBody(503, 'the gateway is shutting down', 'SWITCHYARD_UNAVAILABLE')

export function createDataPlane(opts: DataPlaneOptions): DataPlane {
  const gw = opts.handle
  const recorder = opts.recorder
  const protocol = opts.protocol
  const enrich = opts.enrich
  const metrics = gw.metrics
  const tunnels = new Set<Duplex>()
  // WebSocket handshakes that fail upstream count with every other upstream failure.
  const countUpstreamError = (pool: string, kind: string): void => void metrics.upstreamErrors.inc({ pool, kind })

  /**
   * One listener per response, shared (no closure per request): ends the connection's turn
   * for the next pipelined request, then records the answer. 'close' comes once, after
   * 'finish' or when the connection died first: then nothing was answered, and the request is
   * recorded as the client's abandonment (499).
   */
  function onResponseClose(this: Tracked): void {
    const ex = this[kExchange]!
    ex.closed = true
    if (!ex.tunnelled) {
      // An event listener: whatever a recording hook (a canary observer, span export) throws
      // must not end the process, nor keep the connection's next request from its turn.
      try {
        if (this.headersSent) recorder.request(ex, ex.ctx, this, this.statusCode)
        else recorder.request(ex, ex.ctx, this, 499, errorCodeOf(this) ?? 'SWITCHYARD_CLIENT_CLOSED')
      } catch (err) {
        gw.log.error({ err, reqId: ex.ctx?.id }, 'recording an answer failed')
      }
    }
    endTurn(this)
  }

  function request(req: IncomingMessage, res: ServerResponse): void {
    const ex = new Exchange(req, res)
    ;(res as Tracked)[kExchange] = ex
    res.on('close', onResponseClose)
    // A client that resets mid-request makes Node destroy the request with 'aborted'; when a
    // body reader had an 'error' listener at that moment and removed it before the error was
    // emitted (next tick), the error had no listener and would kill the process. This one
    // (shared, no closure) is always there; the outcome is recorded when the response closes.
    req.on('error', ignoreError)
    res.on('error', ignoreError)
    if (plane.closing) return refuseClosing(ex)
    if (req.httpVersionMajor === 1) {
      const q = queueOf(req.socket)
      // A request whose client left while it waited is not started: its answer was recorded
      // (499) when its response closed, and the next one's turn comes at once.
      if (q.busy) return waitTurn(q, res, () => (ex.closed || req.socket.destroyed ? endTurn(res) : run(ex)))
      // The connection is free (the usual case): no closure, no queue entry.
      startTurn(q, res)
    }
    run(ex)
  }

  /** Admission, the route's stages and the pool decision: no promise unless a stage waits. */
  function run(ex: Exchange): void {
    let pending: void | Promise<void>
    let ctx: RequestContext
    try {
      admit(gw, ex, protocol)
      ctx = ex.ctx!
      enrich?.(ex.raw, ctx)
      pending = runStages(ctx.state.pipelines[ctx.route!.index]!, ex, ctx)
    } catch (err) {
      return fail(ex, err)
    }
    if (pending === undefined) proceedSafely(ex, ctx)
    else pending.then(() => proceedSafely(ex, ctx), (err: unknown) => fail(ex, err))
  }

  function proceedSafely(ex: Exchange, ctx: RequestContext): void {
    try {
      proceed(ex, ctx)
    } catch (err) {
      fail(ex, err)
    }
  }

  function proceed(ex: Exchange, ctx: RequestContext): void {
    if (isUpgrade(ex)) {
      ex.tunnelled = true
      return tunnelUpgrade(ex, ctx, tunnelObserver(ex, ctx), countUpstreamError)
    }
    // Every check passed: now the body is wanted (RFC 9110 §10.1.1).
    ctx.interim = ex.res
    continueIfExpected(ex.raw, ex.res)
    void forward(ex, ctx)
  }

  async function forward(ex: Exchange, ctx: RequestContext): Promise<void> {
    try {
      const res = await ctx.state.pipelines[ctx.route!.index]!.forward(ex, ctx)
      respond(ex, ctx, res)
    } catch (err) {
      fail(ex, err)
    }
  }

  /** The upstream's answer: route response headers, then the features' (they win), the request id. */
  function respond(ex: Exchange, ctx: RequestContext, res: UpstreamResponse): void {
    const headers = res.headers as OutgoingHttpHeaders
    const set = routePlan(ctx.route!).headers.setResponse
    for (let i = 0; i < set.length; i++) headers[set[i]![0]] = set[i]![1]
    mergeHeaders(headers, ctx.responseHeaders)
    headers['x-request-id'] = ctx.id
    ctx.responseBytes = res.body === null ? undefined : 0
    const count = (n: number): void => void (ctx.responseBytes! += n)
    if (res.grpc !== undefined) {
      const route = ctx.route!.name
      writeGrpcResponse(ex.res, res.statusCode, headers, res.body, res.grpc, count, (code) => countGrpcStatus(metrics.registry, route, code))
    } else writeResponse(ex.res, res.statusCode, headers, res.body, count)
  }

  /**
   * Answer a refused or failed request. Never throws: this runs from the server's 'request'
   * listener and from promise callbacks, where an exception would end the process (an answer
   * that cannot be written, e.g. a header Node refuses, closes the connection instead).
   */
  function fail(ex: Exchange, err: unknown): void {
    try {
      if (isGatewayAnswer(err)) return sendAnswer(ex, err)
      const status = statusOf(err)
      if (status >= 500) gw.log.warn({ err, reqId: ex.ctx?.id }, 'request failed')
      sendError(ex, err, status)
    } catch (cannot) {
      gw.log.error({ err: cannot, reqId: ex.ctx?.id }, 'could not write the answer; closing the connection')
      setErrorCode(ex.res, 'SWITCHYARD_INTERNAL')
      ex.res.destroy()
    }
  }

  /** A gateway error in the SPEC's JSON shape; never an upstream's text or a stack. */
  function sendError(ex: Exchange, err: unknown, status: number): void {
    const res = ex.res
    const code = status === 500 ? 'SWITCHYARD_INTERNAL' : clientCodeOf(err, status)
    setErrorCode(res, code)
    // The client is gone, or the answer had begun (a body that failed mid-stream): nothing can be said.
    if (res.headersSent || res.destroyed || res.writableEnded) {
      if (!res.destroyed && !res.writableEnded) res.destroy()
      return
    }
    const message = status === 500 ? 'internal error' : ((err as Error).message ?? 'error')
    const ctx = ex.ctx
    // A gRPC client reads the outcome from grpc-status, not from an HTTP status and a JSON body.
    if (isGrpc(ex.headers['content-type'] as string | undefined)) {
      const route = ctx?.route?.name ?? '(none)'
      return sendGrpcError(res, status, message, ctx?.responseHeaders, (c) => countGrpcStatus(metrics.registry, route, c))
    }
    const headers: OutgoingHttpHeaders = ex.answerHeaders === undefined ? {} : { ...ex.answerHeaders }
    if (status === 503) headers['retry-after'] = '5'
    // Connection is meaningless (and warned about) in HTTP/2.
    if (status === 413 && ex.raw.httpVersionMajor === 1) headers.connection = 'close'
    // Headers features decided on (RateLimit-*, Retry-After, WWW-Authenticate, Cache-Status, an
    // assigned cohort cookie) belong on the gateway's own answers too.
    if (ctx?.responseHeaders !== undefined) for (const k in ctx.responseHeaders) headers[k] = ctx.responseHeaders[k]
    if (ctx !== undefined) headers['x-request-id'] = ctx.id
    const body = errorBody(status, message, code)
    headers['content-type'] = JSON_TYPE
    headers['content-length'] = Buffer.byteLength(body)
    res.writeHead(status, headers)
    res.end(ex.method === 'HEAD' ? undefined : body)
  }

  /**
   * An answer the gateway gives itself (src/pipeline/answer.ts): its headers, the route's
   * `headers.response.set`, then the features' headers (CORS, RateLimit-*), which win.
   */
  function sendAnswer(ex: Exchange, answer: GatewayAnswer): void {
    const res = ex.res
    if (res.headersSent || res.destroyed) return
    const ctx = ex.ctx
    const headers: OutgoingHttpHeaders = { ...answer.headers }
    if (ctx?.route !== undefined) {
      const set = routePlan(ctx.route).headers.setResponse
      for (let i = 0; i < set.length; i++) headers[set[i]![0]] = set[i]![1]
    }
    mergeHeaders(headers, ctx?.responseHeaders)
    if (ctx !== undefined) headers['x-request-id'] = ctx.id
    const body = answer.body
    const status = answer.statusCode
    // RFC 9110 §8.6: no Content-Length on 1xx and 204; 304 keeps the one a 200 would have.
    if (body === null) {
      if (status >= 200 && status !== 204 && status !== 304 && headers['content-length'] === undefined) headers['content-length'] = 0
      res.writeHead(status, headers)
      return void res.end()
    }
    headers['content-type'] ??= 'application/octet-stream'
    headers['content-length'] = body.length
    res.writeHead(status, headers)
    res.end(ex.method === 'HEAD' ? undefined : body)
  }

  /** Counts and logs an upgrade when its handshake is answered, and the tunnel's life in the WebSocket series. */
  function tunnelObserver(ex: Exchange, ctx: RequestContext): TunnelObserver {
    const route = ctx.route!.name
    return {
      answered(status, code) {
        recorder.request(ex, ctx, ex.res, status, code)
        if (status === 101) {
          metrics.websocketActive.inc({ route })
          metrics.websocketSessions.inc({ route, pool: ctx.servedByPool ?? '-' })
        }
      },
      closed(ms) {
        metrics.websocketActive.dec({ route })
        metrics.websocketDuration.observe({ route }, ms / 1000)
      },
    }
  }

  /** A draining listener still reads requests on open connections: each gets 503 and the connection closes. */
  function refuseClosing(ex: Exchange): void {
    setErrorCode(ex.res, 'SWITCHYARD_UNAVAILABLE')
    const headers: OutgoingHttpHeaders = { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(SHUTTING_DOWN), 'retry-after': '5' }
    if (ex.raw.httpVersionMajor === 1) headers.connection = 'close'
    ex.res.writeHead(503, headers)
    ex.res.end(ex.method === 'HEAD' ? undefined : SHUTTING_DOWN)
  }

  /**
   * Upgrades skip the 'request' event: give them a response on their socket (for a refusal
   * before the tunnel: a JSON error, then the socket closes) and run them like any request.
   */
  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    markUpgrade(req, socket, head)
    tunnels.add(socket)
    socket.once('close', () => tunnels.delete(socket))
    const res = new NodeServerResponse(req)
    res.assignSocket(socket as Socket)
    res.on('finish', () => socket.destroy())
    request(req, res)
  }

  const plane: DataPlane = { request, upgrade, closing: false, tunnels }
  return plane
}

/** Errors of a client's request and response streams: the exchange's outcome says what happened. */
function ignoreError(): void {}

function statusOf(err: unknown): number {
  const s = (err as { statusCode?: unknown } | null)?.statusCode
  return typeof s === 'number' && s >= 400 && s < 600 ? s | 0 : 500
}
