/**
 * Transports: how one attempt reaches one backend. The attempt runner (attempt.ts) depends on
 * this interface only, so the pool layer and the retry logic do not know whether bytes go
 * over HTTP/1.1 (undici-http1.ts) or HTTP/2 (h2.ts, which also carries gRPC); each pool's
 * `protocol` picks its transport once, when the forward loop first meets the pool's settings.
 *
 * A transport keeps its per-backend connection pools as the backend's attachments
 * (`Backend.attachment`), so their lifetime follows the backend's: closed when a reload
 * changes its connection settings or removes it.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { EventEmitter } from 'node:events'
import type { Readable } from 'node:stream'
import type { Backend } from '../upstream/types.js'

export interface TransportRequest {
  readonly method: string
  /** Origin-form target: path and query. */
  readonly path: string
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Buffer | Readable | null
  /** Aborts the exchange (client gone, shutdown): an AbortSignal, or an EventEmitter that emits 'abort'. */
  readonly signal?: AbortSignal | EventEmitter
  /** Time allowed for the response headers, and between body chunks (ms). */
  readonly responseTimeout: number
  /** Called for each interim (1xx) response before the final one (src/proxy/interim.ts). */
  readonly onInfo?: (info: { statusCode: number; headers: Record<string, string | string[]> }) => void
  /** Time allowed between response body chunks, when not `responseTimeout`; 0: none (a gRPC stream may idle until its deadline). */
  readonly bodyTimeout?: number
  /** The client accepts trailers (`TE: trailers`, RFC 9110 §10.1.4): gRPC. HTTP/2 transports only. */
  readonly trailers?: boolean
}

export interface TransportResponse {
  readonly statusCode: number
  /** Lower-case names, as received (hop-by-hop not yet removed). */
  readonly headers: IncomingHttpHeaders
  /** Always present; empty for bodiless answers. Destroying it releases the connection. */
  readonly body: Readable
  /** The body emits 'trailers' (the trailer fields, lower-case) before its end (HTTP/2 transports). */
  readonly trailers?: boolean
}

export interface Transport {
  /**
   * Connections the transport opens to `backend` at most (requests beyond wait in its queue);
   * undefined: unbounded or multiplexed. With the pool's `maxPending`, bounds the wait for a
   * connection.
   */
  connectionsFor?(backend: Backend): number | undefined
  /**
   * Send one request to `backend`. Rejects with the transport's own error (classified by
   * upstream-errors.ts) when no response head arrived.
   */
  request(backend: Backend, request: TransportRequest): Promise<TransportResponse>
}
