/**
 * The client's request body as the proxy sends it. Small bodies with a known length are read
 * into memory so a retry can send them again; anything larger or chunked streams through
 * (never held whole in memory) and so cannot be replayed. Both paths enforce bodyLimit: the
 * declared length up front, the bytes actually received as they arrive.
 */
import type { IncomingMessage } from 'node:http'
import { Transform, type TransformCallback } from 'node:stream'
import { ERR_BODY_TOO_LARGE } from '../errors.js'

export type RequestBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'buffer'; readonly data: Buffer }
  | { readonly kind: 'stream'; readonly stream: NodeJS.ReadableStream & import('node:stream').Readable }

export const NO_BODY: RequestBody = Object.freeze({ kind: 'none' })

/** Bodies up to this size are buffered so that retries can replay them. */
export const REPLAY_BUFFER_LIMIT = 64 * 1024

/** Marks an HTTP/2 stream that is a WebSocket tunnel (RFC 8441): its DATA frames are not a request body. */
export const kTunnelStream = Symbol('switchyard.tunnelStream')

export function hasBody(raw: IncomingMessage): boolean {
  // HTTP/2: a body is DATA frames and Content-Length is optional; the stream knows whether
  // the client ended it with the headers.
  const h2 = (raw as { stream?: { endAfterHeaders?: boolean } }).stream
  if (h2 !== undefined) return !h2.endAfterHeaders && (raw as { [kTunnelStream]?: boolean })[kTunnelStream] !== true
  const te = raw.headers['transfer-encoding']
  if (te !== undefined) return true
  const cl = raw.headers['content-length']
  return cl !== undefined && cl !== '0'
}

class LimitStream extends Transform {
  private seen = 0
  constructor(private readonly limit: number) {
    super()
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length
    if (this.seen > this.limit) return cb(new ERR_BODY_TOO_LARGE(this.limit))
    cb(null, chunk)
  }
}

function readAll(raw: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (c: Buffer): void => {
      size += c.length
      if (size > limit) {
        cleanup()
        reject(new ERR_BODY_TOO_LARGE(limit))
        return
      }
      chunks.push(c)
    }
    const onEnd = (): void => {
      cleanup()
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(err)
    }
    const onAborted = (): void => {
      cleanup()
      reject(Object.assign(new Error('client aborted the request body'), { code: 'ECONNRESET' }))
    }
    function cleanup(): void {
      raw.off('data', onData)
      raw.off('end', onEnd)
      raw.off('error', onError)
      raw.off('aborted', onAborted)
    }
    raw.on('data', onData)
    raw.on('end', onEnd)
    raw.on('error', onError)
    raw.on('aborted', onAborted)
  })
}

/** Prepare the body once per request (retries and mirrors reuse the result). */
export async function prepareBody(raw: IncomingMessage, bodyLimit: number): Promise<RequestBody> {
  if (!hasBody(raw)) return NO_BODY
  const cl = raw.headers['content-length']
  const declared = cl === undefined ? -1 : Number(cl)
  if (declared > bodyLimit) throw new ERR_BODY_TOO_LARGE(bodyLimit)
  if (declared >= 0 && declared <= REPLAY_BUFFER_LIMIT && raw.headers['transfer-encoding'] === undefined) {
    return { kind: 'buffer', data: await readAll(raw, Math.min(bodyLimit, declared)) }
  }
  // The parser may already have refused the rest of this body (bad chunk framing) and the
  // client-error handler answered 400 on this connection: forward nothing rather than a request
  // cut short.
  if (raw.destroyed || raw.socket.destroyed || raw.socket.writableEnded) throw Object.assign(new Error('client aborted the request body'), { code: 'ECONNRESET' })
  const limited = new LimitStream(bodyLimit)
  // Whoever sends the body (the transport) listens for its errors; until then, or when nothing
  // ever sends it (the request was refused after the body was prepared), a client reset must
  // not become an 'error' without a listener, which would end the process.
  limited.on('error', ignoreBodyError)
  raw.on('error', (err) => limited.destroy(err))
  raw.pipe(limited)
  return { kind: 'stream', stream: limited }
}

function ignoreBodyError(): void {}
