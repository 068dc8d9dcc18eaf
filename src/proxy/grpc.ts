/**
 * gRPC over the gateway (PROTOCOL-HTTP2 of grpc/grpc): what the proxy does differently for a
 * request whose content-type is application/grpc[+proto|+json|;…].
 *
 * - Deadlines: `grpc-timeout` is honoured and capped by the route's response timeout; the
 *   upstream receives the remaining time, and the gateway ends the call with
 *   DEADLINE_EXCEEDED when it passes.
 * - The gateway's own errors are gRPC errors: HTTP 200 with grpc-status and grpc-message
 *   (clients read the status from trailers; an HTTP 502 JSON body would surface as an opaque
 *   "UNKNOWN/UNAVAILABLE: received HTTP status"), mapped from the HTTP status the gateway would
 *   have sent.
 * - Retries on the gRPC statuses a pool lists in `retry.on` (Envoy's names), read from a
 *   Trailers-Only answer: the call failed before any message came back.
 * - Trailers are forwarded; a Trailers-Only answer becomes headers + trailers (valid gRPC, and
 *   the only shape the HTTP/2 compatibility API can send through the normal response path).
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { PassThrough, type Readable } from 'node:stream'
import type { GrpcRetryCondition, RetryCondition } from '../config/model.js'

/** gRPC status codes (grpc/grpc doc/statuscodes.md). */
export const GRPC = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const

const RETRY_NAME: Readonly<Record<string, GrpcRetryCondition>> = {
  '1': 'cancelled',
  '4': 'deadline-exceeded',
  '8': 'resource-exhausted',
  '13': 'internal',
  '14': 'unavailable',
}

/** application/grpc, application/grpc+proto, application/grpc;…, not application/grpc-web. */
export function isGrpc(contentType: string | undefined): boolean {
  if (contentType === undefined || !contentType.startsWith('application/grpc')) return false
  const next = contentType.charCodeAt(16)
  return Number.isNaN(next) || next === 43 /* + */ || next === 59 /* ; */
}

const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 }

/** `grpc-timeout` (1-8 digits and a unit, H M S m u n) in milliseconds; undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string' || value.length < 2 || value.length > 9) return undefined
  const unit = UNIT_MS[value[value.length - 1]!]
  if (unit === undefined) return undefined
  const digits = value.slice(0, -1)
  if (!/^\d+$/.test(digits)) return undefined
  return Number(digits) * unit
}

/** Milliseconds as `grpc-timeout` (at most 8 digits: milliseconds, then seconds). */
export function formatGrpcTimeout(ms: number): string {
  const m = Math.max(0, Math.ceil(ms))
  return m < 100_000_000 ? `${m}m` : `${Math.ceil(m / 1000)}S`
}

/** The gRPC status for an HTTP status the gateway would have answered (grpc/grpc doc/http-grpc-status-mapping.md, and the gateway's own cases). */
export function grpcStatusForHttp(status: number): number {
  switch (status) {
    case 400:
      return GRPC.INTERNAL
    case 401:
      return GRPC.UNAUTHENTICATED
    case 403:
      return GRPC.PERMISSION_DENIED
    case 404:
      return GRPC.UNIMPLEMENTED
    case 408:
    case 504:
      return GRPC.DEADLINE_EXCEEDED
    case 413:
    case 429:
      return GRPC.RESOURCE_EXHAUSTED
    case 502:
    case 503:
      return GRPC.UNAVAILABLE
    default:
      return status >= 500 ? GRPC.INTERNAL : GRPC.UNKNOWN
  }
}

/** grpc-message is percent-encoded (PROTOCOL-HTTP2: printable ASCII except %). */
export function encodeGrpcMessage(message: string): string {
  return message.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c))
}

/** The retry condition a Trailers-Only answer's grpc-status names, if the pool lists it. */
export function grpcRetryCondition(headers: IncomingHttpHeaders, on: readonly RetryCondition[]): GrpcRetryCondition | undefined {
  const status = headers['grpc-status']
  if (typeof status !== 'string') return undefined
  const name = RETRY_NAME[status]
  return name !== undefined && on.includes(name) ? name : undefined
}

/**
 * A streamed request body that can be sent again when it turned out small: the bytes pass
 * through and the first `limit` are kept. Once the source has ended within the limit,
 * `replay()` gives them back (a unary gRPC call is one small message, so a retry after a
 * Trailers-Only UNAVAILABLE can resend it); otherwise it is null and the call is not retried.
 */
export class ReplayRecorder {
  private readonly chunks: Buffer[] = []
  private size = 0
  private overflow = false
  private ended = false
  readonly stream: Readable

  constructor(source: Readable, private readonly limit: number) {
    const out = new PassThrough()
    source.on('data', (c: Buffer) => {
      if (!this.overflow) {
        this.size += c.length
        if (this.size > this.limit) {
          this.overflow = true
          this.chunks.length = 0
        } else this.chunks.push(c)
      }
      if (!out.write(c)) source.pause()
    })
    out.on('drain', () => source.resume())
    source.once('end', () => {
      this.ended = true
      out.end()
    })
    source.once('error', (err) => out.destroy(err))
    this.stream = out
  }

  replay(): Buffer | null {
    return this.ended && !this.overflow ? Buffer.concat(this.chunks, this.size) : null
  }
}

/** The client's response, as much as writing a gRPC answer needs (HTTP/2 compatibility API or HTTP/1.1). */
export interface GrpcClientResponse {
  writeHead(status: number, headers: OutgoingHttpHeaders): unknown
  addTrailers(headers: OutgoingHttpHeaders): void
  end(): unknown
  destroy(err?: Error): unknown
  once(event: 'close', listener: () => void): unknown
  readonly writableEnded: boolean
}

const STATUS_FIELDS = ['grpc-status', 'grpc-message', 'grpc-status-details-bin'] as const

/**
 * Write a gRPC upstream answer: headers, the messages streamed with backpressure, then the
 * upstream's trailers. A Trailers-Only answer (grpc-status among the headers) is sent as
 * headers + trailers. An upstream that breaks mid-stream ends the call with UNAVAILABLE, and a
 * deadline that passes with DEADLINE_EXCEEDED, both as trailers (the client sees a gRPC
 * status, not a reset stream).
 */
export function writeGrpcResponse(
  res: GrpcClientResponse & NodeJS.WritableStream,
  status: number,
  headers: OutgoingHttpHeaders,
  body: Readable | Buffer | null,
  grpc: { readonly trailers: boolean; readonly deadlineAt?: number },
  onBytes: (n: number) => void,
  onStatus?: (status: string) => void,
): void {
  let trailers: OutgoingHttpHeaders | undefined
  if (status === 200 && headers['grpc-status'] !== undefined) {
    trailers = {}
    for (const name of STATUS_FIELDS) {
      if (headers[name] !== undefined) trailers[name] = headers[name]
      delete headers[name]
    }
  }
  delete headers['content-length']
  res.writeHead(status, headers)
  if (body === null || Buffer.isBuffer(body)) {
    if (body !== null) {
      onBytes(body.length)
      res.write(body)
    }
    if (trailers !== undefined) res.addTrailers(trailers)
    onStatus?.(String(trailers?.['grpc-status'] ?? (status === 200 ? GRPC.INTERNAL : grpcStatusForHttp(status))))
    res.end()
    return
  }
  let finished = false
  const endWith = (code: number, message: string): void => {
    if (finished || res.writableEnded) return
    finished = true
    body.unpipe(res)
    if (!body.destroyed) body.destroy()
    res.addTrailers({ 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) })
    onStatus?.(String(code))
    res.end()
  }
  let timer: NodeJS.Timeout | undefined
  if (grpc.deadlineAt !== undefined) {
    timer = setTimeout(() => endWith(GRPC.DEADLINE_EXCEEDED, 'deadline exceeded at the gateway'), Math.max(0, grpc.deadlineAt - Date.now()))
  }
  let upstreamTrailers = trailers !== undefined
  // What the client will read as the call's status (absent: decided below, or a non-gRPC answer).
  let finalStatus = trailers?.['grpc-status'] !== undefined ? String(trailers['grpc-status']) : undefined
  if (grpc.trailers) {
    body.once('trailers', (t: IncomingHttpHeaders) => {
      upstreamTrailers = true
      if (t['grpc-status'] !== undefined) finalStatus = String(t['grpc-status'])
      const out: OutgoingHttpHeaders = {}
      for (const name in t) if (name.charCodeAt(0) !== 58) out[name] = t[name]
      res.addTrailers(out)
    })
  }
  if (trailers !== undefined) res.addTrailers(trailers)
  body.on('data', (c: Buffer) => onBytes(c.length))
  body.once('end', () => {
    clearTimeout(timer)
    finished = true
    // An upstream that ended without a status broke the protocol: say so rather than OK.
    if (!upstreamTrailers && status === 200) {
      res.addTrailers({ 'grpc-status': String(GRPC.INTERNAL), 'grpc-message': 'upstream sent no grpc-status' })
      finalStatus = String(GRPC.INTERNAL)
    }
    onStatus?.(finalStatus ?? String(grpcStatusForHttp(status)))
  })
  body.once('error', () => {
    clearTimeout(timer)
    endWith(GRPC.UNAVAILABLE, 'upstream connection lost')
  })
  res.once('close', () => {
    clearTimeout(timer)
    // The client cancelled (RST_STREAM) or went away: cancel upstream too.
    if (!body.readableEnded && !body.destroyed) body.destroy()
  })
  body.pipe(res, { end: true })
}

/**
 * The gateway's own error on a gRPC request: HTTP 200, content-type application/grpc, and the
 * status as trailers on HTTP/2 (in the headers on HTTP/1.1, which has no trailers here).
 * Headers features decided on (Retry-After, WWW-Authenticate, RateLimit-*) ride along.
 */
export function sendGrpcError(res: GrpcClientResponse & { readonly req?: { readonly httpVersionMajor?: number } }, httpStatus: number, message: string, extra?: Readonly<Record<string, string | string[]>>, onStatus?: (status: string) => void): void {
  const code = String(grpcStatusForHttp(httpStatus))
  onStatus?.(code)
  const headers: OutgoingHttpHeaders = { ...extra, 'content-type': 'application/grpc' }
  const status = { 'grpc-status': code, 'grpc-message': encodeGrpcMessage(message) }
  if (res.req?.httpVersionMajor === 2) {
    res.writeHead(200, headers)
    res.addTrailers(status)
  } else res.writeHead(200, { ...headers, ...status })
  res.end()
}
