/**
 * WebSocket (HTTP/1.1 Upgrade, RFC 6455 §4) proxying as a byte tunnel.
 *
 * An upgrade request is first dispatched through the data plane like any request, so the
 * request context, rate limits and JWT checks run exactly as for plain HTTP (a guarded route
 * stays guarded), and the pool decision is the same one step. The listener's adapter then
 * hands the socket over; the tunnel opens the upgrade to the first backend of the request's
 * pool chain (upstream/pool-chain.ts, as plain requests) and splices the two sockets
 * together; frames are never parsed.
 *
 * @fastify/http-proxy also proxies WebSockets, but it mounts a route per prefix and picks one
 * upstream per registration; our routes live in a swappable table behind one catch-all route,
 * so the tunnel is ours. Same idea as its handleUpgrade: reuse the router for the hooks.
 */
import http, { type IncomingMessage } from 'node:http'
import https from 'node:https'
import type { Duplex } from 'node:stream'
import { isIP, type Socket } from 'node:net'
import { DEFAULTS } from '../config/defaults.js'
import { codeForStatus, rawErrorResponse } from '../errors.js'
import { answerAndClose, ERROR_ANSWER_GRACE_MS, guardSocket } from '../net/edge-socket.js'
import type { RequestContext } from '../request-context.js'
import { firstLease } from '../upstream/pool-chain.js'
import { decidePool } from './decision.js'
import { keyInputOf, routePlan } from './forward.js'
import { buildUpstreamHeaders } from './headers.js'
import type { ProxyRequest } from './request.js'
import { acceptH2, backendWebSocketKey, h2WebSocketStream, refuseH2, relayRefusalH2 } from './websocket-h2.js'

const kUpgradeSocket = Symbol('switchyard.upgradeSocket')
const kUpgradeHead = Symbol('switchyard.upgradeHead')

type UpgradeRequest = IncomingMessage & { [kUpgradeSocket]?: Duplex; [kUpgradeHead]?: Buffer }

/** Mark a Node request as an upgrade whose socket the tunnel takes over (done by the listener's adapter). */
export function markUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  guardSocket(socket)
  ;(req as UpgradeRequest)[kUpgradeSocket] = socket
  ;(req as UpgradeRequest)[kUpgradeHead] = head
}

export function isUpgrade(request: ProxyRequest): boolean {
  return (request.raw as UpgradeRequest)[kUpgradeSocket] !== undefined
}

function refuseSocket(socket: Duplex, status: number, message: string, code?: string): void {
  answerAndClose(socket, rawErrorResponse(status, message, '', code))
}

/** A tunnel's idle timeout when the route gives none (routes built without the config loader). */
const DEFAULT_WEBSOCKET_IDLE_TIMEOUT = DEFAULTS.route.websocketIdleTimeout

/** RFC 6455 §4.1: the only protocol the gateway tunnels. Anything else (h2c, TLS/1.2) could smuggle a second request past the route. */
const WEBSOCKET = /^websocket$/i

/**
 * What the tunnel tells its owner, so an upgrade is counted and logged like every answer
 * (Fastify's onResponse never runs for it: the handshake is written straight to the socket).
 */
export interface TunnelObserver {
  /** The handshake was answered: 101 when the tunnel opened, else the refusal's status (and code when the gateway refused). Once. */
  answered(status: number, code: string | undefined): void
  /** An open tunnel closed, `ms` after it opened. */
  closed(ms: number): void
}

/**
 * Tunnel an authorised upgrade to the first backend along the request's pool chain that grants
 * a lease: the same chain, candidate order and hash key a plain request of the same client gets.
 * Takes over the client socket (the adapter has detached it from the HTTP machinery).
 */
export function tunnelUpgrade(request: ProxyRequest, ctx: RequestContext, observer: TunnelObserver, onUpstreamError?: (pool: string, kind: string) => void): void {
  const raw = request.raw as UpgradeRequest
  const client = raw[kUpgradeSocket]!
  // RFC 8441: the client is an HTTP/2 stream (websocket-h2.ts); answers are HTTP/2 responses.
  const h2 = h2WebSocketStream(raw)
  const send = h2 === undefined ? refuseSocket : (_c: Duplex, status: number, message: string, code?: string) => refuseH2(h2, status, message, code)
  // Every refusal is an answer: written in the one JSON shape with its code, then counted and logged.
  const refuse = (socket: Duplex, status: number, message: string, code: string = codeForStatus(status)): void => {
    send(socket, status, message, code)
    observer.answered(status, code)
  }
  const head = raw[kUpgradeHead] ?? Buffer.alloc(0)
  const route = ctx.route!
  if (!route.settings.websocket) return refuse(client, 400, `route "${route.name}" does not accept WebSocket upgrades`)
  const upgrade = request.headers.upgrade
  if (typeof upgrade !== 'string' || !WEBSOCKET.test(upgrade.trim())) return refuse(client, 400, 'only Upgrade: websocket is tunnelled')
  // RFC 6455 §4.1: the opening handshake is an HTTP/1.1 GET. The tunnel sends GET upstream, so
  // a PUT or PATCH here would reach the backend as a request the client never sent; an
  // HTTP/1.0 request has no Upgrade (RFC 9110 §7.8).
  // (An RFC 8441 extended CONNECT is the HTTP/2 form, dispatched as a GET by websocket-h2.ts.)
  if (request.method !== 'GET' || (raw.httpVersion !== '1.1' && h2 === undefined)) return refuse(client, 400, 'a WebSocket handshake is an HTTP/1.1 GET')

  decidePool(request, ctx)
  const target = firstLease(ctx.state.pools, ctx.pool, keyInputOf(request, ctx))
  if (target === undefined) return refuse(client, 503, `no backend available for pool "${ctx.pool}"`, 'SWITCHYARD_NO_BACKEND')
  const { pool, lease } = target
  if (target.lastResort) ctx.lastResort = true
  const backend = lease.backend
  // The tunnel dials its own connection: it must not count as a request waiting for one of the
  // transport's (maxPending, queueTimeout).
  backend.tunnels++
  let leaseOpen = true
  const endLease = (...args: Parameters<typeof lease.end>): void => {
    if (!leaseOpen) return
    leaseOpen = false
    backend.tunnels--
    lease.end(...args)
  }
  ctx.backend = backend.origin
  ctx.servedByPool = pool.name
  ctx.attempts = 1

  const headers = buildUpstreamHeaders(routePlan(route).headers, {
    clientHeaders: request.headers,
    peerTrusted: ctx.peerTrusted,
    peerAddress: raw.socket.remoteAddress ?? ctx.clientIp,
    protocol: ctx.protocol,
    requestId: ctx.id,
    gatewayHeaders: ctx.upstreamHeaders,
    extra: undefined,
  })
  // The upgrade handshake needs the hop-by-hop pair the generic filter removed.
  headers.connection = 'Upgrade'
  headers.upgrade = 'websocket'
  if (h2 !== undefined && headers['sec-websocket-key'] === undefined) headers['sec-websocket-key'] = backendWebSocketKey()
  const url = backend.url
  const started = performance.now()
  const mod = url.protocol === 'https:' ? https : http
  const tls = backend.tls
  const upstreamReq = mod.request({
    host: url.hostname,
    port: url.port || (url.protocol === 'https:' ? 443 : 80),
    method: 'GET',
    path: ctx.query === '' ? ctx.upstreamPath : `${ctx.upstreamPath}?${ctx.query}`,
    headers: { ...headers, host: route.settings.passHost === true && request.headers.host !== undefined ? request.headers.host : url.host },
    timeout: pool.settings.timeouts.connect,
    // Same trust as the pool's HTTP connections: its CA, its servername (never an IP literal as SNI).
    ...(url.protocol === 'https:'
      ? {
          rejectUnauthorized: tls?.rejectUnauthorized ?? true,
          ...(tls?.ca !== undefined ? { ca: tls.ca } : {}),
          ...(tls?.servername !== undefined ? { servername: tls.servername } : isIP(url.hostname.replace(/^\[|\]$/g, '')) ? {} : { servername: url.hostname }),
        }
      : {}),
  })
  let done = false
  const fail = (status: number, message: string): void => {
    if (done) return
    done = true
    endLease('failure', performance.now() - started, status === 504 ? 'timeout' : 'connect-error')
    onUpstreamError?.(pool.name, status === 504 ? 'timeout' : 'connect-error')
    refuse(client, status, message)
  }
  upstreamReq.on('timeout', () => {
    upstreamReq.destroy()
    fail(504, 'upstream did not answer in time')
  })
  upstreamReq.on('error', () => fail(502, 'upstream connection failed'))
  upstreamReq.on('response', (res) => {
    // The backend refused the upgrade: relay its answer (status and body) and close.
    if (done) return
    done = true
    endLease(res.statusCode! >= 500 ? 'failure' : 'success', performance.now() - started, res.statusCode! >= 500 ? 'status' : undefined)
    if (res.statusCode! >= 500) onUpstreamError?.(pool.name, 'status')
    if (h2 !== undefined) {
      relayRefusalH2(h2, res)
      return observer.answered(res.statusCode!, undefined)
    }
    const lines = [`HTTP/1.1 ${res.statusCode} ${res.statusMessage}`]
    for (let i = 0; i < res.rawHeaders.length; i += 2) {
      const name = res.rawHeaders[i]!.toLowerCase()
      if (name === 'connection' || name === 'transfer-encoding' || name === 'keep-alive') continue
      lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`)
    }
    lines.push('connection: close', '', '')
    client.write(lines.join('\r\n'))
    // The upstream may reset mid-answer: end the client too. And like every error answer, the
    // relayed refusal must not hold the socket after it is written (edge-socket.ts).
    res.on('error', () => client.destroy())
    // And a client gone mid-answer must not leave the upstream connection open behind it.
    client.once('close', () => upstreamReq.destroy())
    res.on('end', () => setTimeout(() => client.destroy(), ERROR_ANSWER_GRACE_MS).unref())
    res.pipe(client)
    observer.answered(res.statusCode!, undefined)
  })
  upstreamReq.on('upgrade', (res, upstream, upstreamHead) => {
    // Node hands the upgraded upstream socket over without an error handler, as on the client side.
    guardSocket(upstream)
    if (done) return upstream.destroy()
    done = true
    ctx.upstreamMs = performance.now() - started
    if (h2 !== undefined) acceptH2(h2, res, ctx.id)
    else {
      const lines = [`HTTP/1.1 101 ${res.statusMessage || 'Switching Protocols'}`]
      for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`)
      lines.push(`x-request-id: ${ctx.id}`, '', '')
      client.write(lines.join('\r\n'))
    }
    if (upstreamHead.length > 0) client.write(upstreamHead)
    if (head.length > 0) upstream.write(head)
    const opened = performance.now()
    observer.answered(101, undefined)
    const end = (): void => {
      client.destroy()
      upstream.destroy()
    }
    let ended = false
    const finish = (): void => {
      if (ended) return
      ended = true
      endLease('success', ctx.upstreamMs ?? 0)
      end()
      observer.closed(performance.now() - opened)
    }
    upstream.on('error', finish)
    client.on('error', finish)
    upstream.on('close', finish)
    client.on('close', finish)
    // An idle tunnel holds two sockets and a connection slot forever: close both sides after
    // idleTimeout with no bytes either way (a socket's timer restarts on reads and writes, and
    // either socket sees every byte of the tunnel, in one direction or the other).
    const idle = route.settings.websocketIdleTimeout ?? DEFAULT_WEBSOCKET_IDLE_TIMEOUT
    if (idle > 0) {
      ;(client as Socket).setTimeout?.(idle, finish)
      upstream.setTimeout(idle, finish)
    }
    upstream.pipe(client)
    client.pipe(upstream)
  })
  upstreamReq.end()
}
