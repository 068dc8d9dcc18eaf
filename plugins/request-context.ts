/**
 * The data plane's entry, one onRequest hook: build the request context, normalise the path,
 * resolve the client IP, enforce the cheap limits (URL length, declared body size, Host, framing)
 * and match the route; then run the route's compiled stages (src/pipeline/) and the pool
 * decision. The handler (plugins/proxy.ts) can rely on `request[kContext].route` and `.pool`
 * being set: unmatched requests are answered 404 here, refused ones with their error.
 */
import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ERR_BAD_REQUEST, ERR_BODY_TOO_LARGE, ERR_METHOD_NOT_ALLOWED, ERR_NO_ROUTE, ERR_URL_TOO_LONG } from '../src/errors.js'
import '../src/gateway-handle.js'
import { resolveClientIp, unmapIPv4 } from '../src/net/client-ip.js'
import { hostFieldCount, isValidHost, routingHost } from '../src/net/host.js'
import { isValidRequestId } from '../src/proxy/headers.js'
import { kContext, type RequestContext } from '../src/request-context.js'
import { normalizePath } from '../src/routing/normalize-path.js'
import { hasBody } from '../src/proxy/request-body.js'
import { runStages } from '../src/pipeline/pipeline.js'

/** Marks a connection whose framing was faulty; nothing more is accepted on it. */
const kFaultyFraming = Symbol('switchyard.faultyFraming')

/** Requests of one HTTP/1.1 connection, answered one at a time in arrival order. */
interface ConnectionQueue {
  busy: boolean
  readonly waiting: (() => void)[]
  readonly socket: import('node:net').Socket
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
function queueOf(socket: Queued<import('node:net').Socket>): ConnectionQueue {
  return (socket[kQueue] ??= { busy: false, waiting: [], socket })
}

/** Wait behind the response in flight; `start` runs when this one's turn comes. */
function waitTurn(q: ConnectionQueue, res: import('node:http').ServerResponse, start: () => void): void {
  q.waiting.push(() => {
    startTurn(q, res)
    start()
  })
  if (q.waiting.length >= MAX_PIPELINED) q.socket.pause()
}

function startTurn(q: ConnectionQueue, res: Queued<import('node:http').ServerResponse>): void {
  q.busy = true
  // 'close' follows 'finish' on a ServerResponse, and also comes when the socket dies first.
  // It comes once: a shared listener (no once-wrapper, no closure) finds the queue on the response.
  res[kQueue] = q
  res.on('close', endTurn)
}

function endTurn(this: Queued<import('node:http').ServerResponse>): void {
  const q = this[kQueue]!
  q.busy = false
  const next = q.waiting.shift()
  if (q.waiting.length < MAX_PIPELINED && q.socket.isPaused()) q.socket.resume()
  next?.()
}

export interface RequestContextOptions {
  readonly protocol: 'http' | 'https'
}

/** The request's host as routing compares it (see src/net/host.ts). */
export function hostOf(request: FastifyRequest): string {
  return routingHost(request.headers.host ?? (request.headers[':authority'] as string | undefined) ?? '')
}

async function requestContextPlugin(app: FastifyInstance, opts: RequestContextOptions): Promise<void> {
  const gw = app.switchyard
  // A null slot declared up front keeps every request object the same shape (V8 hidden classes).
  app.decorateRequest(kContext as unknown as string, null)

  // Callback style, not async: this runs for every request and a promise per hook is measurable.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    if (request.raw.httpVersionMajor === 1) {
      const q = queueOf(request.raw.socket)
      if (q.busy) return waitTurn(q, reply.raw, () => run(request, reply, done))
      // The connection is free (the usual case): no closure, no queue entry.
      startTurn(q, reply.raw)
    }
    run(request, reply, done)
  })

  // The context, then the route's compiled stages and the pool decision, in one hook: no
  // promise unless a stage waits.
  function run(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
    let pending: void | Promise<void>
    try {
      enter(request, reply)
      const ctx = request[kContext]
      pending = runStages(ctx.state.pipelines[ctx.route!.index]!, request, ctx)
    } catch (err) {
      done(err as Error)
      return
    }
    if (pending === undefined) done()
    else pending.then(() => done(), done)
  }

  function enter(request: FastifyRequest, reply: FastifyReply): void {
    const state = gw.state
    const server = state.settings.server
    const raw = request.raw
    const url = raw.url ?? '/'
    const peer = unmapIPv4(raw.socket.remoteAddress ?? '')
    const peerTrusted = gw.trust.isTrusted(peer)
    const sentId = request.headers['x-request-id']
    const id = typeof sentId === 'string' && isValidRequestId(sentId) ? sentId : randomUUID()
    const ctx: RequestContext = {
      id,
      startedAt: performance.now(),
      state,
      protocol: opts.protocol,
      clientIp: peerTrusted ? resolveClientIp(peer, request.headers['x-forwarded-for'], gw.trust) : peer,
      peerTrusted,
      path: '',
      query: '',
      route: undefined,
      upstreamPath: '',
      pool: undefined,
      servedByPool: undefined,
      backend: undefined,
      attempts: 0,
      fallbackUsed: false,
      upstreamMs: undefined,
      cacheResult: undefined,
      claims: undefined,
      upstreamHeaders: undefined,
      responseHeaders: undefined,
      observe: undefined,
      responseBytes: undefined,
    }
    request[kContext] = ctx
    gw.metrics.inFlight.inc()
    reply.header('x-request-id', id)

    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing. Node's parser
    // accepts it, so refuse it here and every later request on that connection: a pipelined
    // request behind it could be a body the sender meant as data (smuggling).
    if (raw.httpVersionMinor === 0 && raw.httpVersionMajor === 1 && request.headers['transfer-encoding'] !== undefined) {
      ;(raw.socket as { [kFaultyFraming]?: boolean })[kFaultyFraming] = true
    }
    if ((raw.socket as { [kFaultyFraming]?: boolean })[kFaultyFraming] === true) {
      reply.header('connection', 'close')
      throw new ERR_BAD_REQUEST('Transfer-Encoding is not allowed in HTTP/1.0 (RFC 9112 §6.1)')
    }
    if (url.length > server.maxUrlLength) throw new ERR_URL_TOO_LONG(server.maxUrlLength)
    // A GET or HEAD with a body (a "fat GET", over HTTP/1.1 or as HTTP/2 DATA frames) means
    // nothing to most origins and everything to a cache-poisoning attempt: refused.
    if ((request.method === 'GET' || request.method === 'HEAD') && hasBody(raw)) {
      if (raw.httpVersionMajor === 1) reply.header('connection', 'close')
      throw new ERR_BAD_REQUEST('a GET or HEAD request must not carry a body')
    }
    // RFC 9112 §3.2: a request with more than one Host field, or an invalid one, is a 400
    // (Node keeps the first of several and would let the rest reach X-Forwarded-Host).
    const host = request.headers.host ?? (request.headers[':authority'] as string | undefined)
    if (host !== undefined && (!isValidHost(host) || (raw.httpVersionMajor === 1 && hostFieldCount(raw.rawHeaders) > 1))) {
      throw new ERR_BAD_REQUEST('invalid or repeated Host header')
    }
    // RFC 9112 §6.1: the only transfer coding the gateway implements is chunked; anything
    // else (gzip, chunked) would be forwarded without being understood.
    const te = request.headers['transfer-encoding']
    if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
      reply.header('connection', 'close')
      throw new ERR_BAD_REQUEST('unsupported Transfer-Encoding (only chunked is accepted)')
    }
    // TRACE reflects the request back, credentials and all (RFC 9110 §9.3.8): refused, as NGINX does.
    if (request.method === 'TRACE') {
      reply.header('allow', 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS')
      throw new ERR_METHOD_NOT_ALLOWED('TRACE')
    }
    const { path, query } = normalizePath(url, request.method)
    ;(ctx as { path: string }).path = path
    ;(ctx as { query: string }).query = query
    const resolved = state.routes.resolve({ method: request.method, host: hostOf(request), path, headers: request.headers, clientIp: ctx.clientIp, peerTrusted: ctx.peerTrusted })
    if (resolved === undefined) throw new ERR_NO_ROUTE(request.method, path)
    if ('refused' in resolved) {
      ctx.route = resolved.refused
      reply.header('allow', resolved.allow)
      throw new ERR_METHOD_NOT_ALLOWED(request.method)
    }
    const route = resolved.route
    ctx.route = route
    // The declared size against the route's limit (its own `bodyLimit`, else the server's), before
    // any stage or upstream: a body the gateway would refuse is refused before it is read.
    const cl = request.headers['content-length']
    const bodyLimit = route.settings.bodyLimit ?? server.bodyLimit
    if (cl !== undefined && Number(cl) > bodyLimit) {
      if (request.raw.httpVersionMajor === 1) reply.header('connection', 'close')
      throw new ERR_BODY_TOO_LARGE(bodyLimit)
    }
    ctx.upstreamPath = route.rewrite(path)
  }
}

export default fp(requestContextPlugin, { name: 'switchyard-request-context', fastify: '5.x' })
