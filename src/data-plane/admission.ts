/**
 * Admission: the first step of every data-plane ex. Builds the request context, enforces
 * the cheap limits (URL length, declared body size, Host, framing, TRACE), normalises the path
 * and matches the route. Throws the error that answers a refused request; on return, `ex.ctx`
 * holds the route and the path to send upstream. Also the per-connection order of pipelined
 * HTTP/1.1 requests.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { ERR_BAD_REQUEST, ERR_BODY_TOO_LARGE, ERR_METHOD_NOT_ALLOWED, ERR_NO_ROUTE, ERR_URL_TOO_LONG } from '../errors.js'
import type { GatewayHandle } from '../gateway-handle.js'
import { resolveClientIp, unmapIPv4 } from '../net/client-ip.js'
import { hostFieldCount, isValidHost, routingHost } from '../net/host.js'
import { isValidRequestId } from '../proxy/headers.js'
import { newRequestContext } from '../request-context.js'
import { normalizePath } from '../routing/normalize-path.js'
import { hasBody } from '../proxy/request-body.js'
import type { Exchange } from './exchange.js'

/** Marks a connection whose framing was faulty; nothing more is accepted on it. */
const kFaultyFraming = Symbol('switchyard.faultyFraming')

/** Requests of one HTTP/1.1 connection, answered one at a time in arrival order. */
interface ConnectionQueue {
  busy: boolean
  readonly waiting: (() => void)[]
  readonly socket: Socket
}
const kQueue = Symbol('switchyard.connectionQueue')
type Queued<T> = T & { [kQueue]?: ConnectionQueue }

/**
 * Pipelined requests parsed past one in flight wait here: they reach upstreams in the order
 * the client sent them (a GET behind a POST must not overtake it), one at a time. Past
 * MAX_PIPELINED waiting requests the connection stops being read (backpressure) until the
 * queue drains, so a client that pipelines thousands of requests without reading the answers
 * holds a bounded amount of gateway memory and at most one upstream request.
 */
export const MAX_PIPELINED = 16

/** The connection's queue, made on its first request. */
export function queueOf(socket: Queued<Socket>): ConnectionQueue {
  return (socket[kQueue] ??= { busy: false, waiting: [], socket })
}

/** Wait behind the response in flight; `start` runs when this one's turn comes. */
export function waitTurn(q: ConnectionQueue, res: ServerResponse, start: () => void): void {
  q.waiting.push(() => {
    startTurn(q, res)
    start()
  })
  if (q.waiting.length >= MAX_PIPELINED) q.socket.pause()
}

export function startTurn(q: ConnectionQueue, res: Queued<ServerResponse>): void {
  q.busy = true
  res[kQueue] = q
}

/**
 * The response's turn is over ('close' follows 'finish', and also comes when the socket dies
 * first): the next pipelined request of its connection starts. The data plane calls this from
 * its one shared 'close' listener, so no closure is made per request.
 */
export function endTurn(res: Queued<ServerResponse>): void {
  const q = res[kQueue]
  if (q === undefined) return
  res[kQueue] = undefined
  q.busy = false
  const next = q.waiting.shift()
  if (q.waiting.length < MAX_PIPELINED && q.socket.isPaused()) q.socket.resume()
  next?.()
}

/** The request's host as routing compares it (see src/net/host.ts). */
export function hostOf(headers: IncomingHttpHeaders): string {
  return routingHost(headers.host ?? (headers[':authority'] as string | undefined) ?? '')
}

/** Admit `ex` (see the file comment): sets `ex.ctx`, or throws the error that answers it. */
export function admit(gw: GatewayHandle, ex: Exchange, protocol: 'http' | 'https'): void {
    const state = gw.state
  const server = state.settings.server
  const raw = ex.raw
  const url = raw.url ?? '/'
  const peer = unmapIPv4(raw.socket.remoteAddress ?? '')
  const peerTrusted = gw.trust.isTrusted(peer)
  const sentId = ex.headers['x-request-id']
  const id = typeof sentId === 'string' && isValidRequestId(sentId) ? sentId : randomUUID()
  const ctx = newRequestContext({
    id,
    startedAt: performance.now(),
    state,
    protocol,
    clientIp: peerTrusted ? resolveClientIp(peer, ex.headers['x-forwarded-for'], gw.trust) : peer,
    peerTrusted,
  })
  ex.ctx = ctx
  gw.metrics.inFlight.inc()

  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing. Node's parser
  // accepts it, so refuse it here and every later request on that connection: a pipelined
  // request behind it could be a body the sender meant as data (smuggling).
  if (raw.httpVersionMinor === 0 && raw.httpVersionMajor === 1 && ex.headers['transfer-encoding'] !== undefined) {
    ;(raw.socket as { [kFaultyFraming]?: boolean })[kFaultyFraming] = true
  }
  if ((raw.socket as { [kFaultyFraming]?: boolean })[kFaultyFraming] === true) {
    ex.answerHeader('connection', 'close')
    throw new ERR_BAD_REQUEST('Transfer-Encoding is not allowed in HTTP/1.0 (RFC 9112 §6.1)')
  }
  if (url.length > server.maxUrlLength) throw new ERR_URL_TOO_LONG(server.maxUrlLength)
  // A GET or HEAD with a body (a "fat GET", over HTTP/1.1 or as HTTP/2 DATA frames) means
  // nothing to most origins and everything to a cache-poisoning attempt: refused.
  if ((ex.method === 'GET' || ex.method === 'HEAD') && hasBody(raw)) {
    if (raw.httpVersionMajor === 1) ex.answerHeader('connection', 'close')
    throw new ERR_BAD_REQUEST('a GET or HEAD request must not carry a body')
  }
  // RFC 9112 §3.2: a request with more than one Host field, or an invalid one, is a 400
  // (Node keeps the first of several and would let the rest reach X-Forwarded-Host).
  const host = ex.headers.host ?? (ex.headers[':authority'] as string | undefined)
  if (host !== undefined && (!isValidHost(host) || (raw.httpVersionMajor === 1 && hostFieldCount(raw.rawHeaders) > 1))) {
    throw new ERR_BAD_REQUEST('invalid or repeated Host header')
  }
  // RFC 9112 §6.1: the only transfer coding the gateway implements is chunked; anything
  // else (gzip, chunked) would be forwarded without being understood.
  const te = ex.headers['transfer-encoding']
  if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
    ex.answerHeader('connection', 'close')
    throw new ERR_BAD_REQUEST('unsupported Transfer-Encoding (only chunked is accepted)')
  }
  // TRACE reflects the request back, credentials and all (RFC 9110 §9.3.8): refused, as NGINX does.
  if (ex.method === 'TRACE') {
    ex.answerHeader('allow', 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS')
    throw new ERR_METHOD_NOT_ALLOWED('TRACE')
  }
  const { path, query } = normalizePath(url, ex.method)
  ;(ctx as { path: string }).path = path
  ;(ctx as { query: string }).query = query
  const resolved = state.routes.resolve({ method: ex.method, host: hostOf(ex.headers), path, headers: ex.headers, clientIp: ctx.clientIp, peerTrusted: ctx.peerTrusted })
  if (resolved === undefined) throw new ERR_NO_ROUTE(ex.method, path)
  if ('refused' in resolved) {
    ctx.route = resolved.refused
    ex.answerHeader('allow', resolved.allow)
    throw new ERR_METHOD_NOT_ALLOWED(ex.method)
  }
  const route = resolved.route
  ctx.route = route
  // The declared size against the route's limit (its own `bodyLimit`, else the server's), before
  // any stage or upstream: a body the gateway would refuse is refused before it is read.
  const cl = ex.headers['content-length']
  const bodyLimit = route.settings.bodyLimit ?? server.bodyLimit
  if (cl !== undefined && Number(cl) > bodyLimit) {
    if (ex.raw.httpVersionMajor === 1) ex.answerHeader('connection', 'close')
    throw new ERR_BODY_TOO_LARGE(bodyLimit)
  }
  ctx.upstreamPath = route.rewrite(path)
}
