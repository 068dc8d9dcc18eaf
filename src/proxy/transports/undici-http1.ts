/**
 * HTTP/1.1 to backends over undici: one keep-alive Pool per backend, kept as the backend's
 * attachment so a reload that keeps the backend keeps its warm connections.
 */
import { errors, Pool as UndiciPool, type Dispatcher } from 'undici'
import { connectOptions } from '../../upstream/backend.js'
import type { Backend, ConnectionSettings } from '../../upstream/types.js'
import type { Transport, TransportRequest, TransportResponse } from '../transport.js'

/** Connections per origin: enough for high concurrency, bounded so one pool cannot exhaust file descriptors. */
export const MAX_CONNECTIONS_PER_ORIGIN = 128

const kPool = Symbol('switchyard.undiciHttp1Pool')

function createPool(origin: string) {
  return (c: ConnectionSettings): UndiciPool =>
    // pipelining 1: a request never waits behind another on one socket (head-of-line
    // blocking), and a reset only ever loses the one request that was on it.
    new UndiciPool(origin, {
      connections: MAX_CONNECTIONS_PER_ORIGIN,
      pipelining: 1,
      connect: connectOptions(c),
      // timeouts.idle: close an idle keep-alive connection before the backend does (below its
      // keep-alive timeout), so a request is rarely written to a socket the backend is closing
      // (the stale keep-alive race, RFC 9112 §9.8). A backend's `Keep-Alive: timeout=N` hint
      // may shorten it, never lengthen it.
      ...(c.idleTimeout !== undefined && c.idleTimeout > 0 ? { keepAliveTimeout: c.idleTimeout, keepAliveMaxTimeout: c.idleTimeout } : {}),
    })
}

/** The undici Pool of `backend` (created on first use); for tests and the WebSocket tunnel's TLS parity. */
export function undiciPoolOf(backend: Backend): UndiciPool {
  return backend.attachment(kPool, createPool(backend.origin))
}

type Signal = NonNullable<TransportRequest['signal']>

function onAbort(signal: Signal, fn: () => void): () => void {
  if ('addEventListener' in signal) {
    signal.addEventListener('abort', fn, { once: true })
    return () => signal.removeEventListener('abort', fn)
  }
  signal.once('abort', fn)
  return () => signal.off('abort', fn)
}

export const undiciHttp1: Transport = {
  connectionsFor: () => MAX_CONNECTIONS_PER_ORIGIN,
  request(backend: Backend, r: TransportRequest): Promise<TransportResponse> {
    const pending = undiciPoolOf(backend).request({
      origin: backend.origin,
      path: r.path,
      method: r.method as Dispatcher.HttpMethod,
      headers: r.headers as Record<string, string | string[]>,
      body: r.body,
      signal: r.signal,
      headersTimeout: r.responseTimeout,
      bodyTimeout: r.bodyTimeout ?? r.responseTimeout,
      onInfo: r.onInfo,
    }) as unknown as Promise<TransportResponse>
    const signal = r.signal
    if (signal === undefined) return pending
    // undici acts on an abort only once the request has a connection (api/abort-signal.js keeps
    // the reason until onConnect): a request still waiting for one, or for its connect, would
    // outlive its deadline. Answer the abort now; undici drops the request, unsent, when it
    // reaches a connection.
    return new Promise<TransportResponse>((resolve, reject) => {
      const off = onAbort(signal, () => reject(new errors.RequestAbortedError()))
      pending.then(
        (res) => {
          off()
          resolve(res)
        },
        (err: unknown) => {
          off()
          reject(err as Error)
        },
      )
    })
  },
}
