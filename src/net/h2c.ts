/**
 * h2c on the plain listener (`server.h2c: true`): HTTP/2 with prior knowledge (RFC 9113 §3.3)
 * beside HTTP/1.1 on one port, for gRPC behind an outer TLS terminator.
 *
 * node:http2's cleartext server cannot fall back to HTTP/1.1 (`allowHTTP1` only works with
 * ALPN on TLS), and Node's HTTP/1.1 server cannot take HTTP/2. So the listener stays the
 * HTTP/1.1 edge server (its limits, its connection count) and looks at the first bytes of each
 * connection: the HTTP/2 client connection preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, §3.4)
 * hands the socket to an HTTP/2 session, anything else to the HTTP/1.1 parser. The bytes read
 * are put back first, so neither side misses any.
 *
 * `Upgrade: h2c` (RFC 7540 §3.2, removed by RFC 9113) is never honoured: it would let a client
 * turn a proxied HTTP/1.1 connection into a tunnel past the outer proxy's checks
 * (h2c smuggling). The upgrade router tunnels `Upgrade: websocket` only and answers 400.
 */
import type { RequestListener, ServerFactory } from './server-factory.js'
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'
import http2, { type Http2Session } from 'node:http2'
import type { Socket } from 'node:net'
import type { ServerSettings } from '../config/model.js'
import { errorBody } from '../errors.js'
import { dispatchExtendedConnect, EXTENDED_CONNECT_SETTINGS } from '../proxy/websocket-h2.js'
import { adoptAuthority, HTTP2_MAX_CONCURRENT_STREAMS, HTTP2_MAX_HEADER_LIST_PAIRS, HTTP2_MAX_SESSION_MEMORY_MB, HTTP2_SESSION_IDLE_MS } from '../tls/secure-server.js'

/** RFC 9113 §3.4. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')

/** 'h2' when `data` starts with the preface, 'http1' when it cannot, 'more' when it is a shorter prefix of it. */
export function sniffPreface(data: Buffer): 'h2' | 'http1' | 'more' {
  const n = Math.min(data.length, H2_PREFACE.length)
  if (data.compare(H2_PREFACE, 0, n, 0, n) !== 0) return 'http1'
  return n === H2_PREFACE.length ? 'h2' : 'more'
}

function refuse(res: ServerResponse): void {
  const body = errorBody(400, 'Host and :authority disagree')
  res.writeHead(400, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

/** Wrap the plain listener's server factory so it also serves HTTP/2 with prior knowledge. */
export function withH2c(factory: ServerFactory, server: ServerSettings): ServerFactory {
  return (handler: RequestListener, opts) => {
    const h1 = factory(handler, opts) as unknown as HttpServer
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      if (!adoptAuthority(req.headers)) return refuse(res)
      handler(req, res)
    }
    const h2 = http2.createServer(
      {
        maxSessionMemory: HTTP2_MAX_SESSION_MEMORY_MB,
        maxHeaderListPairs: HTTP2_MAX_HEADER_LIST_PAIRS,
        settings: { maxConcurrentStreams: HTTP2_MAX_CONCURRENT_STREAMS, maxHeaderListSize: server.maxHeaderSize, enablePush: false, ...EXTENDED_CONNECT_SETTINGS },
      },
      onRequest as unknown as Parameters<typeof http2.createServer>[1],
    )
    // CONNECT over HTTP/2 (RFC 9113 §8.5): a gateway is not a forward proxy; the extended
    // CONNECT of RFC 8441 (WebSocket) is routed like an upgrade.
    h2.on('connect', (req: IncomingMessage, res: ServerResponse) => {
      if (dispatchExtendedConnect(req, res, onRequest)) return
      const body = errorBody(405, 'CONNECT is not supported')
      res.writeHead(405, { allow: 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS', 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
    const sessions = new Set<Http2Session>()
    h2.on('session', (session: Http2Session) => {
      sessions.add(session)
      session.once('close', () => sessions.delete(session))
      session.setTimeout(HTTP2_SESSION_IDLE_MS, () => session.close())
    })

    const http1Listeners = h1.listeners('connection') as ((socket: Socket) => void)[]
    h1.removeAllListeners('connection')
    h1.on('connection', (socket: Socket) => {
      let seen: Buffer | undefined
      // A connection that sends nothing is closed like a slow header block.
      socket.setTimeout(server.headersTimeout, () => socket.destroy())
      const onData = (chunk: Buffer): void => {
        seen = seen === undefined ? chunk : Buffer.concat([seen, chunk])
        const verdict = sniffPreface(seen)
        if (verdict === 'more') return
        socket.off('data', onData)
        socket.setTimeout(0)
        if (verdict === 'h2') {
          // The HTTP/2 session reads what is buffered on the socket before its own reads.
          socket.pause()
          socket.unshift(seen)
          // The HTTP/1.1 server accepts half-open sockets; an HTTP/2 connection whose peer has
          // gone (EOF) must close, or its open streams (a tunnel) keep it forever.
          socket.allowHalfOpen = false
          h2.emit('connection', socket)
          // The session takes the buffered bytes on the next tick (Node's setupHandle), then
          // reads the handle itself. Resume after that: while the socket stays paused its EOF is
          // never delivered, and a client that vanishes leaves a session open forever.
          process.nextTick(() => socket.resume())
        } else {
          // The HTTP/1.1 parser consumes the socket's handle directly (buffered bytes would be
          // skipped): hand it the bytes already read as the first 'data'.
          for (const l of http1Listeners) l.call(h1, socket)
          socket.emit('data', seen)
        }
      }
      socket.on('data', onData)
    })

    // Closing the listener: HTTP/2 sessions get GOAWAY and finish their streams (the server
    // close waits for them, as for HTTP/1.1 keep-alive connections); a forced close cuts them.
    const close = h1.close.bind(h1)
    h1.close = ((cb?: (err?: Error) => void) => {
      for (const s of sessions) s.close()
      return close(cb)
    }) as typeof h1.close
    const closeAll = h1.closeAllConnections.bind(h1)
    h1.closeAllConnections = () => {
      for (const s of sessions) s.destroy()
      closeAll()
    }
    return h1 as unknown as ReturnType<ServerFactory>
  }
}
