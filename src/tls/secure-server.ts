/**
 * The TLS listener's Node server (http2.createSecureServer with HTTP/1.1 fallback, or
 * https.createServer), built here rather than by Fastify so every edge limit is ours and the
 * request handler can normalise what HTTP/2 hands over before any plugin sees it:
 *
 * - `:authority` becomes `Host` when the client sent none (RFC 9113 §8.3.1: an intermediary
 *   converting to HTTP/1.1 semantics constructs Host from it), so route matching, cache keys,
 *   rate-limit keys and X-Forwarded-Host read one field whatever the protocol. A request whose
 *   Host and :authority name different authorities is malformed (same section) and refused:
 *   otherwise one component could route by one and another key by the other.
 * - client-sent copies of the client-certificate headers are dropped before anything reads them.
 */
import type { RequestListener, ServerFactory } from '../net/server-factory.js'
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import type { SecureContextOptions, SecureContext } from 'node:tls'
import type { ServerSettings } from '../config/model.js'
import type { Duplex } from 'node:stream'
import { errorBody, rawErrorResponse } from '../errors.js'
import { answerAndClose } from '../net/edge-socket.js'
import { deferContinue } from '../net/expect-continue.js'
import { dropClientCertHeaders } from './client-cert.js'
import { dispatchExtendedConnect, EXTENDED_CONNECT_SETTINGS } from '../proxy/websocket-h2.js'

/**
 * HTTP/2 limits (RFC 9113 §6.5.2 SETTINGS). Node's default allows 2^32-1 concurrent streams;
 * 128 is what nginx and most edges advertise: plenty for a browser, and a bound on what one
 * connection can make the gateway hold upstream.
 */
export const HTTP2_MAX_CONCURRENT_STREAMS = 128
/** Header fields per request, pseudo-headers included (Node's default, stated). */
export const HTTP2_MAX_HEADER_LIST_PAIRS = 128
/** Per-session memory cap in MB (HPACK tables, buffered frames); above it new streams are refused. */
export const HTTP2_MAX_SESSION_MEMORY_MB = 10
/** An HTTP/2 session with no activity for this long is closed (GOAWAY), as Fastify's default. */
export const HTTP2_SESSION_IDLE_MS = 72_000
/** A TLS handshake must finish within this; Node's 120 s default lets idle sockets pile up. */
export const HANDSHAKE_TIMEOUT_MS = 10_000

export interface SecureServerOptions {
  readonly server: ServerSettings
  readonly http2: boolean
  /** The default certificate and the handshake policy. */
  readonly context: SecureContextOptions
  readonly sniCallback: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void
  readonly requestCert: boolean
  readonly rejectUnauthorized: boolean
}

/** Adopt :authority as Host; false when both are present and disagree. */
export function adoptAuthority(headers: IncomingHttpHeaders): boolean {
  const authority = headers[':authority'] as string | undefined
  if (authority === undefined) return true
  const host = headers.host
  if (host === undefined) {
    headers.host = authority
    return true
  }
  return host.toLowerCase() === authority.toLowerCase()
}

function refuse(res: ServerResponse): void {
  const body = errorBody(400, 'Host and :authority disagree')
  res.writeHead(400, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

export function secureServerFactory(o: SecureServerOptions): ServerFactory {
  const s = o.server
  const options = {
    ...o.context,
    SNICallback: o.sniCallback,
    requestCert: o.requestCert,
    rejectUnauthorized: o.rejectUnauthorized,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    // HTTP/1.1 limits, the same as the plain listener's (createEdgeServer); with http2 they
    // govern the HTTP/1.1 fallback connections.
    maxHeaderSize: s.maxHeaderSize,
    headersTimeout: s.headersTimeout,
    requestTimeout: s.requestTimeout,
    keepAliveTimeout: 5_000,
    insecureHTTPParser: false,
    requireHostHeader: true,
    connectionsCheckingInterval: Math.min(1_000, s.headersTimeout),
  }
  return (handler: RequestListener) => {
    const wrapped = (req: IncomingMessage, res: ServerResponse): void => {
      if (req.httpVersionMajor === 2 && !adoptAuthority(req.headers)) return refuse(res)
      dropClientCertHeaders(req.headers)
      handler(req, res)
    }
    let server: https.Server | http2.Http2SecureServer
    if (o.http2) {
      const h2 = http2.createSecureServer(
        {
          ...options,
          allowHTTP1: true,
          maxSessionMemory: HTTP2_MAX_SESSION_MEMORY_MB,
          maxHeaderListPairs: HTTP2_MAX_HEADER_LIST_PAIRS,
          settings: { maxConcurrentStreams: HTTP2_MAX_CONCURRENT_STREAMS, maxHeaderListSize: s.maxHeaderSize, enablePush: false, ...EXTENDED_CONNECT_SETTINGS },
        },
        wrapped as unknown as Parameters<typeof http2.createSecureServer>[1],
      )
      h2.on('session', (session) => session.setTimeout(HTTP2_SESSION_IDLE_MS, () => session.close()))
      server = h2
    } else {
      server = https.createServer({ ...options, ALPNProtocols: ['http/1.1'] }, wrapped)
    }
    // Upgrade requests (HTTP/1.1 WebSocket) skip the 'request' handler: same stripping, ahead
    // of the upgrade router.
    server.prependListener('upgrade', (req: IncomingMessage) => dropClientCertHeaders(req.headers))
    // CONNECT: HTTP/1.1 fallback connections hand over a raw socket (with Node's error handler
    // removed), HTTP/2 streams a response object (RFC 9113 §8.5); both get 405.
    server.on('connect', (req: IncomingMessage, target: Duplex | ServerResponse) => {
      // RFC 8441: an HTTP/2 extended CONNECT for WebSocket is routed like an upgrade.
      if ('writeHead' in target && dispatchExtendedConnect(req, target, wrapped)) return
      if ('writeHead' in target) {
        const body = errorBody(405, 'CONNECT is not supported')
        target.writeHead(405, { allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS', 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
        target.end(body)
      } else {
        answerAndClose(target, rawErrorResponse(405, 'CONNECT is not supported', 'allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n'))
      }
    })
    // Expect: 100-continue is answered only once the request passed its checks (net/expect-continue.ts).
    deferContinue(server as unknown as Parameters<typeof deferContinue>[0], wrapped)
    server.maxConnections = s.maxConnections
    return server as unknown as ReturnType<ServerFactory>
  }
}
