/**
 * WebSocket (HTTP/1.1 Upgrade, RFC 6455 §4) proxying as a byte tunnel.
 *
 * An upgrade request is first dispatched through the data-plane app like any request, so the
 * request context, rate limits and JWT checks run exactly as for plain HTTP (a guarded route
 * stays guarded). The proxy handler then hijacks the socket, opens the upgrade to a backend of
 * the chosen pool and splices the two sockets together; frames are never parsed.
 *
 * @fastify/http-proxy also proxies WebSockets, but it mounts a route per prefix and picks one
 * upstream per registration; our routes live in a swappable table behind one catch-all route,
 * so the tunnel is ours. Same idea as its handleUpgrade: reuse the router for the hooks.
 */
import http, { ServerResponse, type IncomingMessage } from 'node:http'
import https from 'node:https'
import type { Duplex } from 'node:stream'
import { isIP } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { rawErrorResponse } from '../errors.js'
import { answerAndClose, guardSocket } from '../net/edge-socket.js'
import type { RequestContext } from '../request-context.js'
import { buildUpstreamHeaders } from './headers.js'
import { routePlan } from './forward.js'

const kUpgradeSocket = Symbol('switchyard.upgradeSocket')
const kUpgradeHead = Symbol('switchyard.upgradeHead')

type UpgradeRequest = IncomingMessage & { [kUpgradeSocket]?: Duplex; [kUpgradeHead]?: Buffer }

export function isUpgrade(request: FastifyRequest): boolean {
  return (request.raw as UpgradeRequest)[kUpgradeSocket] !== undefined
}

/** Route `upgrade` events of the app's server through the app (hooks run), as http-proxy does. */
export function attachUpgradeRouting(app: FastifyInstance): void {
  // Upgraded sockets leave the HTTP server's connection tracking; a shutdown must end them
  // itself, or a long-lived WebSocket would hold the process open forever.
  const open = new Set<Duplex>()
  app.addHook('preClose', async () => {
    for (const s of open) s.destroy()
  })
  app.server.on('upgrade', (req: UpgradeRequest, socket: Duplex, head: Buffer) => {
    guardSocket(socket)
    open.add(socket)
    socket.once('close', () => open.delete(socket))
    req[kUpgradeSocket] = socket
    req[kUpgradeHead] = head
    const res = new ServerResponse(req)
    res.assignSocket(socket as import('node:net').Socket)
    res.on('finish', () => socket.destroy())
    app.routing(req, res)
  })
}

function refuse(socket: Duplex, status: number, message: string): void {
  answerAndClose(socket, rawErrorResponse(status, message))
}

/**
 * Tunnel an authorised upgrade to the first available backend of the chosen pool chain.
 * Called from the proxy handler; takes over the socket (reply is hijacked).
 */
export function tunnelUpgrade(request: FastifyRequest, reply: FastifyReply, ctx: RequestContext): void {
  const raw = request.raw as UpgradeRequest
  const client = raw[kUpgradeSocket]!
  const head = raw[kUpgradeHead] ?? Buffer.alloc(0)
  reply.hijack()
  const route = ctx.route!
  if (!route.settings.websocket) return refuse(client, 400, `route "${route.name}" does not accept WebSocket upgrades`)

  if (ctx.pool === undefined) {
    const decision = route.split.choose({ headers: request.headers, clientIp: ctx.clientIp, claims: ctx.claims, path: ctx.path, query: ctx.query })
    ctx.pool = decision.pool
  }
  // First available backend along the fallback chain.
  let poolName: string | undefined = ctx.pool
  const seen = new Set<string>()
  let target: { pool: import('../upstream/types.js').Pool; backend: import('../upstream/types.js').Backend; lease: import('../upstream/types.js').Lease } | undefined
  while (poolName !== undefined && !seen.has(poolName) && target === undefined) {
    seen.add(poolName)
    const pool = ctx.state.pools.get(poolName)
    if (!pool) break
    for (const b of pool.candidates({ clientIp: ctx.clientIp, hashKey: undefined })) {
      const lease = pool.acquire(b)
      if (lease) {
        target = { pool, backend: b, lease }
        break
      }
    }
    poolName = pool.fallback
  }
  if (target === undefined) return refuse(client, 503, `no backend available for pool "${ctx.pool}"`)
  const { backend, lease, pool } = target
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
  headers.upgrade = String(request.headers.upgrade ?? 'websocket')
  const url = backend.url
  const started = performance.now()
  const mod = url.protocol === 'https:' ? https : http
  const tls = backend.tls
  const upstreamReq = mod.request({
    host: url.hostname,
    port: url.port || (url.protocol === 'https:' ? 443 : 80),
    method: 'GET',
    path: ctx.query === '' ? ctx.upstreamPath : `${ctx.upstreamPath}?${ctx.query}`,
    headers: { ...headers, host: url.host },
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
    lease.end('failure', performance.now() - started, 'connect-error')
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
    lease.end(res.statusCode! >= 500 ? 'failure' : 'success', performance.now() - started, res.statusCode! >= 500 ? 'status' : undefined)
    const lines = [`HTTP/1.1 ${res.statusCode} ${res.statusMessage}`]
    for (let i = 0; i < res.rawHeaders.length; i += 2) {
      const name = res.rawHeaders[i]!.toLowerCase()
      if (name === 'connection' || name === 'transfer-encoding' || name === 'keep-alive') continue
      lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`)
    }
    lines.push('connection: close', '', '')
    client.write(lines.join('\r\n'))
    res.pipe(client)
  })
  upstreamReq.on('upgrade', (res, upstream, upstreamHead) => {
    if (done) return upstream.destroy()
    done = true
    ctx.upstreamMs = performance.now() - started
    const lines = [`HTTP/1.1 101 ${res.statusMessage || 'Switching Protocols'}`]
    for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`)
    lines.push(`x-request-id: ${ctx.id}`, '', '')
    client.write(lines.join('\r\n'))
    if (upstreamHead.length > 0) client.write(upstreamHead)
    if (head.length > 0) upstream.write(head)
    const end = (): void => {
      client.destroy()
      upstream.destroy()
    }
    let ended = false
    const finish = (): void => {
      if (ended) return
      ended = true
      lease.end('success', ctx.upstreamMs ?? 0)
      end()
    }
    upstream.on('error', finish)
    client.on('error', finish)
    upstream.on('close', finish)
    client.on('close', finish)
    upstream.pipe(client)
    client.pipe(upstream)
  })
  upstreamReq.end()
}
