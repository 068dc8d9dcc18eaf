/**
 * HTTP/2 to backends (`pools.NAME.protocol: h2 | h2c`) over node:http2, multiplexed: per
 * backend a few sessions (connections), each carrying up to the number of concurrent streams
 * its server allows (SETTINGS_MAX_CONCURRENT_STREAMS, RFC 9113 §6.5.2).
 *
 * Why node:http2 and not undici's `allowH2` (see docs/protocols.md for the measurements): on
 * GOAWAY undici destroys the socket at once, failing streams the server had promised to finish
 * (RFC 9113 §6.8 graceful shutdown), has one session per client, does not forward the
 * request-side trailers and treats HTTP/2 as experimental. Here:
 *
 * - A session that received GOAWAY takes no new streams; the streams it announced it would
 *   process (id ≤ last-stream-id) run to completion, the others are refused by the server
 *   (REFUSED_STREAM, or above last-stream-id) and fail with `SWITCHYARD_H2_REFUSED`, classified
 *   as a connect error: the server guarantees it did not process them (§8.7), so the forward
 *   loop retries them on any method.
 * - A session that cannot connect (refused, TLS, timeout) fails its streams with the connect
 *   error, which feeds the backend's breaker like an HTTP/1.1 connect failure.
 * - The response body is the HTTP/2 stream itself: backpressure is HTTP/2 flow control, and
 *   destroying the body resets the stream (CANCEL) without touching the connection.
 * - The stream emits 'trailers' before its end (gRPC's grpc-status), which the response writer
 *   forwards (TransportResponse.trailers).
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders as H2Headers, type OutgoingHttpHeaders } from 'node:http2'
import type { IncomingHttpHeaders } from 'node:http'
import type { EventEmitter } from 'node:events'
import type { Readable } from 'node:stream'
import type { Backend, ConnectionSettings } from '../../upstream/types.js'
import type { Transport, TransportRequest, TransportResponse } from '../transport.js'

/** Sessions opened per backend before new streams queue on the least-loaded one. */
export const H2_MAX_SESSIONS_PER_ORIGIN = 8
/** Streams assumed allowed before the server's SETTINGS arrive (RFC 9113 §6.5.2 recommends ≥ 100). */
export const H2_INITIAL_STREAM_LIMIT = 100
/** A session with no stream for this long is closed (GOAWAY). */
export const H2_IDLE_MS = 30_000

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants

/** Connection-specific fields (RFC 9113 §8.2.2) never sent in HTTP/2; `te` only as `trailers`. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te', 'http2-settings'])

function refused(message: string): Error {
  return Object.assign(new Error(message), { code: 'SWITCHYARD_H2_REFUSED' })
}

interface TrackedSession {
  readonly session: ClientHttp2Session
  active: number
  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS, once known (until then, the origin's last known). */
  limit: number
  /** GOAWAY received or closing: no new streams. */
  draining: boolean
  connected: boolean
  /** Why the session failed, when it did. */
  error?: NodeJS.ErrnoException
}

/** The HTTP/2 sessions of one backend; the backend's attachment, closed with it. */
export class H2Origin {
  private readonly sessions: TrackedSession[] = []
  /** Requests waiting for a stream slot (every session full, at the session cap). */
  private readonly waiters: (() => void)[] = []
  /** The stream limit this origin's server last announced (sessions to one server share it). */
  private knownLimit = H2_INITIAL_STREAM_LIMIT
  private closed = false

  constructor(
    readonly origin: string,
    private readonly connection: ConnectionSettings,
  ) {}

  /** Sessions open now (for tests and the admin view). */
  get sessionCount(): number {
    return this.sessions.length
  }

  /**
   * A session with a free stream slot, else a new session, else (every session full, at the
   * cap) undefined: the request waits for a slot. nghttp2 does not queue streams beyond the
   * server's limit, the server would refuse them.
   */
  private pick(): TrackedSession | undefined {
    let open = 0
    for (const t of this.sessions) {
      if (t.draining) continue
      open++
      if (t.active < t.limit) return t
    }
    return open < H2_MAX_SESSIONS_PER_ORIGIN ? this.open() : undefined
  }

  /** A stream slot freed: the next waiter, if any, tries again. */
  private release(): void {
    const next = this.waiters.shift()
    if (next !== undefined) next()
  }

  private open(): TrackedSession {
    const c = this.connection
    const session = http2.connect(this.origin, {
      ...(c.ca !== undefined && { ca: c.ca }),
      ...(c.servername !== undefined && { servername: c.servername }),
      rejectUnauthorized: c.rejectUnauthorized,
      settings: { enablePush: false },
      maxSessionMemory: 10,
    })
    const t: TrackedSession = { session, active: 0, limit: this.knownLimit, draining: false, connected: false }
    session.on('remoteSettings', (settings) => {
      const limit = settings.maxConcurrentStreams ?? H2_INITIAL_STREAM_LIMIT
      const grew = limit > t.limit
      t.limit = this.knownLimit = limit
      if (grew) for (let i = t.active; i < limit && this.waiters.length > 0; i++) this.release()
    })
    this.sessions.push(t)
    const remove = (): void => {
      t.draining = true
      const i = this.sessions.indexOf(t)
      if (i >= 0) this.sessions.splice(i, 1)
    }
    const timer = setTimeout(() => {
      session.destroy(Object.assign(new Error(`connect timeout after ${c.connectTimeout} ms`), { code: 'UND_ERR_CONNECT_TIMEOUT' }))
    }, c.connectTimeout)
    session.once('connect', () => {
      clearTimeout(timer)
      t.connected = true
    })
    // GOAWAY (RFC 9113 §6.8): finish what the server accepted, send nothing new here.
    session.on('goaway', () => remove())
    session.on('error', (err: NodeJS.ErrnoException) => {
      t.error ??= err
      remove()
    })
    session.once('close', () => {
      clearTimeout(timer)
      remove()
    })
    session.setTimeout(H2_IDLE_MS, () => {
      if (t.active === 0) {
        remove()
        session.close()
      }
    })
    // Idle sessions must not keep the process alive.
    session.unref()
    return t
  }

  request(r: TransportRequest, scheme: 'http' | 'https', authority: string): Promise<TransportResponse> {
    if (this.closed) return Promise.reject(refused('backend retired'))
    const t = this.pick()
    if (t !== undefined) return this.send(t, r, scheme, authority, 1)
    return this.wait(r, scheme, authority)
  }

  private wait(r: TransportRequest, scheme: 'http' | 'https', authority: string): Promise<TransportResponse> {
    return new Promise<TransportResponse>((resolve, reject) => {
      const go = (): void => {
        clearTimeout(timer)
        if (this.closed) return reject(refused('backend retired'))
        const t = this.pick()
        if (t === undefined) this.waiters.unshift(go)
        else this.send(t, r, scheme, authority, 1).then(resolve, reject)
      }
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(go)
        if (i >= 0) this.waiters.splice(i, 1)
        reject(Object.assign(new Error(`no HTTP/2 stream slot within ${r.responseTimeout} ms`), { code: 'UND_ERR_HEADERS_TIMEOUT' }))
      }, r.responseTimeout)
      this.waiters.push(go)
    })
  }

  /**
   * One stream on `t`. A stream the server refused (REFUSED_STREAM, or above a GOAWAY's
   * last-stream-id) was not processed (RFC 9113 §8.7): with a body that can be sent again it is
   * retried once here, on another session, before the forward loop hears of it.
   */
  private send(t: TrackedSession, r: TransportRequest, scheme: 'http' | 'https', authority: string, retries: number): Promise<TransportResponse> {
    const replayable = r.body === null || Buffer.isBuffer(r.body)
    const sent = this.stream(t, r, scheme, authority)
    if (retries === 0 || !replayable) return sent
    return sent.catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'SWITCHYARD_H2_REFUSED' || this.closed) throw err
      const next = this.pick()
      return next === undefined ? this.wait(r, scheme, authority) : this.send(next, r, scheme, authority, retries - 1)
    })
  }

  private stream(t: TrackedSession, r: TransportRequest, scheme: 'http' | 'https', authority: string): Promise<TransportResponse> {
    const session = t.session
    const headers: OutgoingHttpHeaders = {
      ':method': r.method,
      ':path': r.path,
      ':scheme': scheme,
      ':authority': authority,
    }
    const src = r.headers
    for (const name in src) {
      if (CONNECTION_SPECIFIC.has(name)) continue
      const v = src[name]
      if (v !== undefined) headers[name] = v
    }
    if (r.trailers === true) headers['te'] = 'trailers'
    const endStream = r.body === null || (Buffer.isBuffer(r.body) && r.body.length === 0)
    let stream: ClientHttp2Stream
    try {
      stream = session.request(headers, { endStream })
    } catch (err) {
      return Promise.reject(err)
    }
    t.active++
    session.ref()
    return new Promise<TransportResponse>((resolve, reject) => {
      let settled = false
      const fail = (err: Error): void => {
        if (settled) return
        settled = true
        clearTimeout(headTimer)
        // The session never connected: the connection failed (refused, TLS, timeout), which
        // nothing reached and the breaker must hear of as such, whatever the stream says.
        if (!t.connected && (err as NodeJS.ErrnoException).code !== 'UND_ERR_HEADERS_TIMEOUT' && (err as NodeJS.ErrnoException).code !== 'UND_ERR_ABORTED') {
          const cause = t.error
          err = Object.assign(new Error(cause?.message ?? 'HTTP/2 connection failed'), { code: cause?.code ?? 'ECONNREFUSED', cause: cause ?? err })
        }
        reject(err)
      }
      const headTimer = setTimeout(() => {
        const e = Object.assign(new Error(`no response headers within ${r.responseTimeout} ms`), { code: 'UND_ERR_HEADERS_TIMEOUT' })
        fail(e)
        stream.close(NGHTTP2_CANCEL)
      }, r.responseTimeout)
      stream.once('close', () => {
        t.active--
        if (t.active === 0) session.unref()
        this.release()
        if (settled) return
        // Closed before any response: refused by GOAWAY or REFUSED_STREAM is safe to retry;
        // anything else lost the request somewhere on the way.
        const code = stream.rstCode
        if (code === NGHTTP2_REFUSED_STREAM) fail(refused('stream refused by the backend (not processed)'))
        else fail(Object.assign(new Error(`stream closed before a response (code ${code})`), { code: 'ECONNRESET' }))
      })
      stream.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return
        // Failures of the session before it connected carry the socket's code (ECONNREFUSED, TLS).
        if (err.code === 'ERR_HTTP2_STREAM_ERROR' && stream.rstCode === NGHTTP2_REFUSED_STREAM) fail(refused(err.message))
        else if (err.code === 'ERR_HTTP2_GOAWAY_SESSION') fail(refused(err.message))
        else fail(err)
      })
      const abort = (): void => {
        fail(Object.assign(new Error('request aborted'), { name: 'AbortError', code: 'UND_ERR_ABORTED' }))
        stream.close(NGHTTP2_CANCEL)
      }
      const signal = r.signal as (AbortSignal & EventEmitter) | undefined
      if (signal !== undefined) {
        if ('aborted' in signal && signal.aborted) abort()
        else if (typeof (signal as AbortSignal).addEventListener === 'function') (signal as AbortSignal).addEventListener('abort', abort, { once: true })
        else (signal as EventEmitter).once('abort', abort)
        stream.once('close', () => {
          if (typeof (signal as AbortSignal).removeEventListener === 'function') (signal as AbortSignal).removeEventListener('abort', abort)
          else (signal as EventEmitter).off('abort', abort)
        })
      }
      stream.once('response', (h: H2Headers & { ':status'?: number }) => {
        if (settled) {
          stream.close(NGHTTP2_CANCEL)
          return
        }
        settled = true
        clearTimeout(headTimer)
        const statusCode = Number(h[':status'])
        const out: IncomingHttpHeaders = {}
        for (const name in h) if (name.charCodeAt(0) !== 58) out[name] = h[name] as string
        // A stream that closes mid-body without an error (the connection dropped) must still
        // end in an error, so the writer and the breaker see a broken answer, not a short one.
        stream.once('aborted', () => {
          if (!stream.destroyed) stream.destroy(Object.assign(new Error('upstream stream aborted'), { code: 'ECONNRESET' }))
        })
        if (r.bodyTimeout !== 0) {
          stream.setTimeout(r.bodyTimeout ?? r.responseTimeout, () => {
            stream.destroy(Object.assign(new Error('upstream body timeout'), { code: 'UND_ERR_BODY_TIMEOUT' }))
          })
        }
        resolve({ statusCode, headers: out, body: stream as unknown as Readable, trailers: true })
      })
      if (!endStream) {
        const body = r.body!
        if (Buffer.isBuffer(body)) stream.end(body)
        else {
          // Backpressure both ways: pipe stops reading the client while the upstream window is full.
          body.once('error', (err) => {
            if (!stream.destroyed) stream.close(NGHTTP2_CANCEL)
            fail(err)
          })
          body.pipe(stream)
          stream.once('close', () => {
            body.unpipe(stream)
          })
        }
      }
    })
  }

  close(): Promise<void> {
    this.closed = true
    // Requests still waiting for a slot are refused (nothing was sent): the forward loop may
    // try another backend.
    for (const go of this.waiters.splice(0)) go()
    const all = this.sessions.splice(0)
    return Promise.all(
      all.map(
        (t) =>
          new Promise<void>((resolve) => {
            if (t.session.closed || t.session.destroyed) return resolve()
            t.session.close(() => resolve())
            // Streams still running after a grace period are cut.
            setTimeout(() => {
              t.session.destroy()
              resolve()
            }, 5_000).unref()
          }),
      ),
    ).then(() => undefined)
  }
}

const kH2 = Symbol('switchyard.h2Origin')

/** The HTTP/2 sessions of `backend` (created on first use). */
export function h2OriginOf(backend: Backend): H2Origin {
  return backend.attachment(kH2, (c) => new H2Origin(backend.origin, c))
}

export const h2Transport: Transport = {
  request(backend: Backend, r: TransportRequest): Promise<TransportResponse> {
    const url = backend.url
    return h2OriginOf(backend).request(r, url.protocol === 'https:' ? 'https' : 'http', url.host)
  },
}
