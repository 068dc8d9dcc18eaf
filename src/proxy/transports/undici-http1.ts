/**
 * HTTP/1.1 to backends over undici: one keep-alive Pool per backend, kept as the backend's
 * attachment so a reload that keeps the backend keeps its warm connections.
 */
import { Pool as UndiciPool, type Dispatcher } from 'undici'
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
    new UndiciPool(origin, { connections: MAX_CONNECTIONS_PER_ORIGIN, pipelining: 1, connect: connectOptions(c) })
}

/** The undici Pool of `backend` (created on first use); for tests and the WebSocket tunnel's TLS parity. */
export function undiciPoolOf(backend: Backend): UndiciPool {
  return backend.attachment(kPool, createPool(backend.origin))
}

export const undiciHttp1: Transport = {
  request(backend: Backend, r: TransportRequest): Promise<TransportResponse> {
    return undiciPoolOf(backend).request({
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
  },
}
