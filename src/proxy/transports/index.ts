/**
 * The transport the gateway sends with: each backend's connection settings carry its pool's
 * `protocol` (fixed when the pool is built, and a reload that changes it replaces the
 * backend's connections), so one property read picks HTTP/1.1 (undici) or HTTP/2 (node:http2)
 * for the forward loop, mirrors and cache fills alike.
 */
import type { Backend } from '../../upstream/types.js'
import type { Transport, TransportRequest, TransportResponse } from '../transport.js'
import { h2Transport } from './h2.js'
import { MAX_CONNECTIONS_PER_ORIGIN, undiciHttp1 } from './undici-http1.js'

export const poolTransport: Transport = {
  // HTTP/2 multiplexes streams on its sessions: no per-connection queue to bound there.
  connectionsFor: (backend) => (backend.connection.protocol === undefined ? MAX_CONNECTIONS_PER_ORIGIN : undefined),
  request(backend: Backend, r: TransportRequest): Promise<TransportResponse> {
    return backend.connection.protocol === undefined ? undiciHttp1.request(backend, r) : h2Transport.request(backend, r)
  },
}
