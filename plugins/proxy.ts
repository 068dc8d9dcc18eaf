/**
 * The Fastify adapter of the data plane: one catch-all route over the compiled per-route
 * pipelines (src/pipeline/). The request-context hook has run the route's stages and the pool
 * decision; the handler runs the route's forward chain and streams the upstream's answer back,
 * or hands an upgrade to the tunnel. One route reading an
 * immutable, swappable table is what makes hot reload possible (Fastify cannot remove routes
 * from a running app). Every listener's app registers this same adapter over the same
 * pipelines, so nothing here holds per-gateway state.
 */
import fp from 'fastify-plugin'
import { METHODS as NODE_METHODS, ServerResponse, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { clientCodeOf, errorBody } from '../src/errors.js'
import { setErrorCode } from '../src/log/error-code.js'
import { isGatewayAnswer, type GatewayAnswer } from '../src/pipeline/answer.js'
import '../src/gateway-handle.js'
import { routePlan } from '../src/proxy/forward.js'
import { mergeHeaders, writeResponse } from '../src/proxy/respond.js'
import { isUpgrade, markUpgrade, tunnelUpgrade, type TunnelObserver } from '../src/proxy/websocket.js'
import { continueIfExpected } from '../src/net/expect-continue.js'
import { sendGrpcError, writeGrpcResponse } from '../src/proxy/grpc.js'
import { isGrpc } from '../src/proxy/grpc.js'
import { countGrpcStatus } from '../src/proxy/grpc-metrics.js'
import type { GatewayHandle } from '../src/gateway-handle.js'
import { answerRecorder } from './access-log.js'
import { kContext } from '../src/request-context.js'

/** Route `upgrade` events of the app's server through the app (hooks run), as http-proxy does. */
function attachUpgradeRouting(app: FastifyInstance): void {
  // Upgraded sockets leave the HTTP server's connection tracking; a shutdown must end them
  // itself, or a long-lived WebSocket would hold the process open forever.
  const open = new Set<Duplex>()
  app.addHook('preClose', async () => {
    for (const s of open) s.destroy()
  })
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    markUpgrade(req, socket, head)
    open.add(socket)
    socket.once('close', () => open.delete(socket))
    const res = new ServerResponse(req)
    res.assignSocket(socket as Socket)
    res.on('finish', () => socket.destroy())
    app.routing(req, res)
  })
}


/**
 * Counts and logs an upgrade when its handshake is answered (the request part is over: it
 * leaves `switchyard_requests_in_flight`), and the tunnel's life in the WebSocket series.
 */
function tunnelObserver(gw: GatewayHandle, request: FastifyRequest, reply: FastifyReply): TunnelObserver {
  const m = gw.metrics
  const route = request[kContext].route!.name
  return {
    answered(status, code) {
      answerRecorder(gw)?.request(request, reply.raw, status, code)
      if (status === 101) {
        m.websocketActive.inc({ route })
        m.websocketSessions.inc({ route, pool: request[kContext].servedByPool ?? '-' })
      }
    },
    closed(ms) {
      m.websocketActive.dec({ route })
      m.websocketDuration.observe({ route }, ms / 1000)
    },
  }
}

/** Send a gateway error in the SPEC's JSON shape; never an upstream's text or a stack. */
export function sendError(reply: FastifyReply, err: FastifyError | Error): FastifyReply {
  const e = err as FastifyError
  let status = typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500
  // Fastify's own client errors (bad content type, etc.) keep their status; anything else unknown is 500.
  const message = status === 500 ? 'internal error' : e.message
  // A gRPC client reads the outcome from grpc-status, not from an HTTP status and a JSON body.
  if (isGrpc(reply.request.headers['content-type'] as string | undefined) && !reply.raw.headersSent) {
    setErrorCode(reply.raw, status === 500 ? 'SWITCHYARD_INTERNAL' : clientCodeOf(err, status))
    reply.hijack()
    const route = reply.request[kContext]?.route?.name ?? '(none)'
    sendGrpcError(reply.raw, status, message, reply.request[kContext]?.responseHeaders, (code) => countGrpcStatus(reply.server.switchyard.metrics.registry, route, code))
    return reply
  }
  if (status === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', '5')
  // Connection is meaningless (and warned about) in HTTP/2.
  if (status === 413 && reply.request.raw.httpVersionMajor === 1) reply.header('connection', 'close')
  const ctx = reply.request[kContext]
  // Headers features decided on (RateLimit-*, Retry-After, WWW-Authenticate, Cache-Status, an
  // assigned cohort cookie) belong on the gateway's own answers too.
  if (ctx?.responseHeaders) for (const k in ctx.responseHeaders) reply.header(k, ctx.responseHeaders[k]!)
  status = status | 0
  const code = status === 500 ? 'SWITCHYARD_INTERNAL' : clientCodeOf(err, status)
  setErrorCode(reply.raw, code)
  return reply.code(status).type('application/json; charset=utf-8').send(errorBody(status, message, code))
}

/**
 * Write an answer the gateway gives itself (src/pipeline/answer.ts): its headers, the route's
 * `headers.response.set`, then the features' headers (CORS, RateLimit-*), which win.
 */
function sendAnswer(reply: FastifyReply, answer: GatewayAnswer): FastifyReply {
  const ctx = reply.request[kContext]
  const headers: OutgoingHttpHeaders = { ...answer.headers }
  if (ctx?.route !== undefined) {
    const set = routePlan(ctx.route).headers.setResponse
    for (let i = 0; i < set.length; i++) headers[set[i]![0]] = set[i]![1]
  }
  mergeHeaders(headers, ctx?.responseHeaders)
  for (const k in headers) reply.header(k, headers[k])
  reply.code(answer.statusCode)
  if (answer.body === null) return reply.send()
  if (reply.request.method === 'HEAD') {
    reply.header('content-length', String(answer.body.length))
    return reply.send()
  }
  return reply.send(answer.body)
}

async function proxyPlugin(app: FastifyInstance): Promise<void> {
  // Bodies are streamed to the upstream untouched: no parsing, and Fastify must not read them.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, _payload, done) => done(null))

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (isGatewayAnswer(err)) return sendAnswer(reply, err)
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500
    if (status >= 500) request.log.warn({ err, reqId: request[kContext]?.id }, 'request failed')
    return sendError(reply, err)
  })
  app.setNotFoundHandler((request, reply) => {
    // Reached only for targets the router cannot take (e.g. absolute-form); ordinary misses are 404'd in onRequest.
    return sendError(reply, Object.assign(new Error(`no route matches ${request.method}`), { statusCode: 404 }))
  })

  attachUpgradeRouting(app)
  // WebSocket handshakes that fail upstream count with every other upstream failure.
  const metrics = app.switchyard.metrics
  const countUpstreamError = (pool: string, kind: string): void => void metrics.upstreamErrors.inc({ pool, kind })

  // Every method Node's parser accepts is proxied (WebDAV, M-SEARCH, QUERY, ...) except
  // CONNECT: a gateway is not a forward proxy.
  const known = new Set(app.supportedMethods)
  for (const m of NODE_METHODS) if (m !== 'CONNECT' && !known.has(m)) app.addHttpMethod(m, { hasBody: true })
  const METHODS = app.supportedMethods.filter((m) => m !== 'CONNECT')

  app.route({
    method: METHODS,
    url: '/*',
    handler: async (request: FastifyRequest, reply: FastifyReply) => {
      const ctx = request[kContext]
      if (isUpgrade(request)) {
        reply.hijack()
        return tunnelUpgrade(request, ctx, tunnelObserver(app.switchyard, request, reply), countUpstreamError)
      }
      const pipeline = ctx.state.pipelines[ctx.route!.index]!
      ctx.interim = reply.raw
      // Every check passed: now the body is wanted (RFC 9110 §10.1.1).
      continueIfExpected(request.raw, reply.raw)
      const res = await pipeline.forward(request, ctx)
      // From here the answer is written straight to Node's response: one header object, one
      // writeHead, the body piped. onResponse hooks still run when it finishes.
      reply.hijack()
      const headers = res.headers as OutgoingHttpHeaders
      const set = routePlan(ctx.route!).headers.setResponse
      for (let i = 0; i < set.length; i++) headers[set[i]![0]] = set[i]![1]
      // Headers earlier hooks set on the reply, then the features' (they win over the upstream's).
      mergeHeaders(headers, reply.getHeaders() as Record<string, string>)
      mergeHeaders(headers, ctx.responseHeaders)
      headers['x-request-id'] = ctx.id
      ctx.responseBytes = res.body === null ? undefined : 0
      if (res.grpc !== undefined) {
        const route = ctx.route!.name
        writeGrpcResponse(reply.raw, res.statusCode, headers, res.body, res.grpc, (n) => (ctx.responseBytes! += n), (code) => countGrpcStatus(app.switchyard.metrics.registry, route, code))
      }
      else writeResponse(reply.raw, res.statusCode, headers, res.body, (n) => (ctx.responseBytes! += n))
    },
  })
}

export default fp(proxyPlugin, { name: 'switchyard-proxy', fastify: '5.x', dependencies: ['switchyard-request-context'] })
