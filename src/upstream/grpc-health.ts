/**
 * `healthCheck.type: grpc`: the standard gRPC health check (grpc.health.v1.Health/Check,
 * grpc/grpc doc/health-checking.md) over HTTP/2, cleartext for h2c pools and TLS for h2 pools
 * (the pool's CA and servername). Healthy when the answer is grpc-status 0 and the status is
 * SERVING. `healthCheck.path` names the service: `/` (the default `/health` is read as the
 * whole server too) asks about the server as a whole, `/pkg.Service` about that service.
 *
 * Each probe opens its own connection and closes it: a probe then also proves that the backend
 * accepts connections, as the HTTP probe does, and no idle HTTP/2 session is kept per backend.
 * The two messages are small enough to encode by hand (one string field, one enum field).
 */
import http2 from 'node:http2'
import type { HealthCheckSettings } from '../config/model.js'
import type { Backend } from './types.js'

/** grpc.health.v1.HealthCheckResponse.ServingStatus. */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const

/** The service a probe asks about: the path without its leading slash; `/` and `/health` mean the server. */
export function grpcHealthService(path: string): string {
  return path === '/' || path === '/health' ? '' : path.slice(1)
}

/** A length-prefixed gRPC message carrying HealthCheckRequest { service }. */
export function encodeHealthCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8')
  // Field 1, wire type 2 (length-delimited); the length as a varint.
  const len: number[] = []
  let n = name.length
  do {
    len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0))
    n >>>= 7
  } while (n > 0)
  const message = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, ...len]), name])
  const frame = Buffer.alloc(5 + message.length)
  frame.writeUInt32BE(message.length, 1)
  message.copy(frame, 5)
  return frame
}

/** The ServingStatus of a HealthCheckResponse frame (UNKNOWN when absent: proto3 default). */
export function decodeServingStatus(frame: Buffer): string | undefined {
  if (frame.length < 5 || frame[0] !== 0) return undefined
  const size = frame.readUInt32BE(1)
  const msg = frame.subarray(5, 5 + size)
  for (let i = 0; i < msg.length; ) {
    const tag = msg[i++]!
    if (tag === 0x08) {
      let v = 0
      let shift = 0
      while (i < msg.length) {
        const b = msg[i++]!
        v |= (b & 0x7f) << shift
        if ((b & 0x80) === 0) break
        shift += 7
      }
      return SERVING_STATUS[v] ?? `status ${v}`
    }
    return undefined
  }
  return 'UNKNOWN'
}

export interface GrpcProbeResult {
  readonly ok: boolean
  readonly reason: string
}

/** One grpc.health.v1 Check on `backend`; never throws. */
export function probeGrpcHealth(backend: Pick<Backend, 'origin' | 'connection'>, hc: HealthCheckSettings, signal: AbortSignal): Promise<GrpcProbeResult> {
  return new Promise((resolve) => {
    const c = backend.connection
    let done = false
    const session = http2.connect(backend.origin, {
      ...(c.ca !== undefined && { ca: c.ca }),
      ...(c.servername !== undefined && { servername: c.servername }),
      rejectUnauthorized: c.rejectUnauthorized,
      settings: { enablePush: false },
    })
    const finish = (r: GrpcProbeResult): void => {
      if (done) return
      done = true
      signal.removeEventListener('abort', onAbort)
      session.destroy()
      resolve(r)
    }
    const onAbort = (): void => finish({ ok: false, reason: 'timeout' })
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    session.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, reason: err.code ?? err.message }))
    const stream = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'switchyard-health-check',
      ...(hc.host !== undefined && { ':authority': hc.host }),
    })
    const chunks: Buffer[] = []
    let size = 0
    let httpStatus = 0
    let grpcStatus: string | undefined
    stream.on('response', (h) => {
      httpStatus = Number(h[':status'])
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status'])
    })
    stream.on('trailers', (h) => {
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status'])
    })
    stream.on('data', (d: Buffer) => {
      size += d.length
      if (size <= 1024) chunks.push(d)
    })
    stream.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, reason: err.code ?? err.message }))
    stream.on('close', () => {
      if (httpStatus !== 200) return finish({ ok: false, reason: httpStatus === 0 ? 'no response' : `status ${httpStatus}` })
      if (grpcStatus !== '0') return finish({ ok: false, reason: `grpc-status ${grpcStatus ?? 'missing'}` })
      const serving = decodeServingStatus(Buffer.concat(chunks))
      finish({ ok: serving === 'SERVING', reason: serving ?? 'malformed answer' })
    })
    stream.end(encodeHealthCheckRequest(grpcHealthService(hc.path)))
  })
}
