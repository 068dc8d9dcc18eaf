/**
 * WebSocket over HTTP/2 (RFC 8441): a client that sees SETTINGS_ENABLE_CONNECT_PROTOCOL opens a
 * stream with the extended CONNECT (`:method CONNECT`, `:protocol websocket`) and then speaks
 * WebSocket frames on that stream. The gateway treats it as the HTTP/2 form of an HTTP/1.1
 * upgrade: the request goes through the same route match, hooks and stages as a GET to its path
 * (so JWT and rate limits apply), then the tunnel opens an ordinary HTTP/1.1 upgrade to the
 * backend (backends rarely speak RFC 8441) and splices the stream to the backend's socket.
 *
 * Differences on the client side (RFC 8441 §5): no Sec-WebSocket-Key/Accept (the gateway makes
 * a key for the backend and drops the Accept), and success is `:status 200`, not 101.
 */
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { ServerHttp2Stream } from 'node:http2'
import type { Duplex } from 'node:stream'
import { errorBody } from '../errors.js'
import { kTunnelStream } from './request-body.js'
import { markUpgrade } from './websocket.js'

const kH2Stream = Symbol('switchyard.h2WebSocketStream')

type H2Request = IncomingMessage & { stream?: ServerHttp2Stream; [kH2Stream]?: ServerHttp2Stream }

/** The SETTINGS that let clients use the extended CONNECT (RFC 8441 §3). */
export const EXTENDED_CONNECT_SETTINGS = { enableConnectProtocol: true } as const

/**
 * An HTTP/2 CONNECT with `:protocol websocket` is dispatched to `handler` as a WebSocket
 * upgrade of its path; anything else is left to the caller (the plain CONNECT answer, 405).
 */
export function dispatchExtendedConnect(req: IncomingMessage, res: ServerResponse, handler: (req: IncomingMessage, res: ServerResponse) => void): boolean {
  const r = req as H2Request
  if (r.headers[':protocol'] !== 'websocket' || r.stream === undefined) return false
  // Route it as the GET of its path: the upgrade router matches routes, runs the hooks, then tunnels.
  ;(r as { method: string }).method = 'GET'
  r.headers.upgrade = 'websocket'
  r[kH2Stream] = r.stream
  ;(r as { [kTunnelStream]?: boolean })[kTunnelStream] = true
  markUpgrade(r, r.stream as unknown as Duplex, Buffer.alloc(0))
  handler(r, res)
  return true
}

/** The client's HTTP/2 stream when this upgrade came as an extended CONNECT. */
export function h2WebSocketStream(req: IncomingMessage): ServerHttp2Stream | undefined {
  return (req as H2Request)[kH2Stream]
}

/** RFC 6455 §4.1: the key an HTTP/1.1 backend needs, which an RFC 8441 client does not send. */
export function backendWebSocketKey(): string {
  return randomBytes(16).toString('base64')
}

export function refuseH2(stream: ServerHttp2Stream, status: number, message: string, code?: string): void {
  if (stream.destroyed || stream.headersSent) return void stream.destroy()
  const body = errorBody(status, message, code)
  stream.respond({ ':status': status, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
  stream.end(body)
}

const NOT_ON_H2 = new Set(['connection', 'transfer-encoding', 'keep-alive', 'upgrade', 'sec-websocket-accept', 'proxy-connection'])

/** The backend refused the upgrade: relay its status, headers and body on the stream. */
export function relayRefusalH2(stream: ServerHttp2Stream, res: IncomingMessage): void {
  const headers: OutgoingHttpHeaders = { ':status': res.statusCode ?? 502 }
  for (const name in res.headers) if (!NOT_ON_H2.has(name)) headers[name] = res.headers[name]
  stream.respond(headers)
  res.pipe(stream)
}

/** The backend accepted: 200 with what the client must learn (subprotocol, extensions), then the bytes. */
export function acceptH2(stream: ServerHttp2Stream, res: IncomingMessage, requestId: string): void {
  const headers: OutgoingHttpHeaders = { ':status': 200, 'x-request-id': requestId }
  const protocol = res.headers['sec-websocket-protocol']
  const extensions = res.headers['sec-websocket-extensions']
  if (protocol !== undefined) headers['sec-websocket-protocol'] = protocol
  if (extensions !== undefined) headers['sec-websocket-extensions'] = extensions
  stream.respond(headers)
}
