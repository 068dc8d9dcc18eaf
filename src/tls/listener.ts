/**
 * The TLS listener: a second data listener beside the plain one, built over the same gateway
 * handle (same route table, pools, auth, limits, cache, splits), serving HTTPS, and HTTP/2 over
 * ALPN when `server.tls.http2` is on (HTTP/1.1 still served).
 *
 * Certificates are swapped without a restart: a reload brings new files (all-or-nothing with
 * the rest of the configuration), and a change on disk is picked up by itself. A bad file never
 * replaces a good certificate: the old one keeps serving, the problem is logged and counted.
 * The default certificate is swapped with setSecureContext (new handshakes use it; open
 * connections keep theirs), the SNI table by replacing one reference.
 */
import type { Server as HttpServer } from 'node:http'
import type { Http2SecureServer } from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import type { Server as TlsServer, TLSSocket } from 'node:tls'
import { Counter, Gauge } from 'prom-client'
import { ConfigError } from '../config/errors.js'
import type { GatewaySettings, TlsSettings } from '../config/model.js'
import type { GatewayHandle } from '../gateway-handle.js'
import type { DataListener, DataListenerOptions } from '../data-plane/listener.js'
import { buildCertificateSet, loadCertificateSet, readTlsFiles, type CertificateSet } from './certificates.js'
import { clientCertHeaders } from './client-cert.js'
import { TlsCertificateError } from './errors.js'
import { watchFiles, type FileWatcher } from './file-watcher.js'
import { secureServerFactory } from './secure-server.js'

export { withHttpsRedirect } from './redirect.js'
export { HTTP2_MAX_CONCURRENT_STREAMS, HTTP2_MAX_HEADER_LIST_PAIRS, HTTP2_MAX_SESSION_MEMORY_MB, HANDSHAKE_TIMEOUT_MS } from './secure-server.js'

/** Rotation: quiet time after a change on disk, and the fallback check interval. */
export const ROTATION_DEBOUNCE_MS = 500
export const ROTATION_POLL_MS = 60_000

export interface TlsListenerOptions {
  readonly handle: GatewayHandle
  /** Builds a data listener over the gateway's handle and recorder around this server factory. */
  readonly build: (factory: DataListenerOptions['factory'], enrich: NonNullable<DataListenerOptions['enrich']>) => DataListener
  /** Bind with SO_REUSEPORT (one listener per worker thread on the same port). */
  readonly reusePort?: boolean
  /** Overrides for tests; defaults ROTATION_DEBOUNCE_MS / ROTATION_POLL_MS. */
  readonly rotation?: { readonly debounceMs?: number; readonly pollMs?: number; readonly fsWatch?: boolean }
}

export type RotationResult = 'unchanged' | 'applied' | 'rejected'

export interface TlsListener {
  readonly listener: DataListener
  /** https://host:port, as bound. */
  readonly url: string
  readonly port: number
  /** The certificates serving new handshakes now. */
  readonly certificates: CertificateSet
  /** The port plain HTTP redirects to, when `redirectHttp` is on in the running configuration. */
  redirectPort(): number | undefined
  /**
   * Reload, first half: read and check the files of `next` (throws ConfigError listing every
   * problem, and nothing changes). Second half: the returned function swaps them in.
   */
  prepare(next: GatewaySettings): Promise<() => void>
  /** Look at the files again now (what the watcher does); the old certificates stay on failure. */
  refresh(): Promise<RotationResult>
  close(): Promise<void>
}

/** What the listener touches of the server secureServerFactory built (http2 or https; both are tls.Server). */
type SecureServer = (Http2SecureServer | HttpServer) & TlsServer & { requestCert: boolean; rejectUnauthorized: boolean }

interface TlsMetrics {
  readonly rotations: Counter<'result'>
  readonly expiry: Gauge<'certificate'>
  readonly handshakeErrors: Counter<'code'>
}

function tlsMetrics(handle: GatewayHandle): TlsMetrics {
  const registry = handle.metrics.registry
  return {
    rotations: new Counter({
      name: 'switchyard_tls_certificate_reloads_total',
      help: 'Certificate (re)loads from disk by result: applied, or rejected (bad files; the previous certificates keep serving)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    expiry: new Gauge({
      name: 'switchyard_tls_certificate_expiry_timestamp_seconds',
      help: 'notAfter of each served certificate (Unix seconds), by certificate file',
      labelNames: ['certificate'] as const,
      registers: [registry],
    }),
    handshakeErrors: new Counter({
      name: 'switchyard_tls_handshake_errors_total',
      help: 'TLS handshakes that failed (protocol version, missing or untrusted client certificate, timeout), by error code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
  }
}

function filesOf(t: TlsSettings): string[] {
  const out: string[] = []
  for (const c of t.certificates) out.push(c.cert, c.key)
  if (t.clientCa !== undefined) out.push(t.clientCa)
  return out
}

function urlOf(addr: AddressInfo): string {
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return `https://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${addr.port}`
}

/** Build the TLS data-plane app, load the certificates and listen on `server.tls.port`. */
export async function startTlsListener(opts: TlsListenerOptions): Promise<TlsListener> {
  const { handle } = opts
  const log = handle.log
  const serverSettings = handle.state.settings.server
  const initial = serverSettings.tls
  if (initial === undefined) throw new ConfigError([{ path: 'server.tls', message: 'no TLS settings to listen with' }])
  let settings: TlsSettings = initial
  let current: CertificateSet
  try {
    current = await loadCertificateSet(settings)
  } catch (err) {
    if (err instanceof TlsCertificateError) throw new ConfigError(err.problems)
    throw err
  }
  const metrics = tlsMetrics(handle)
  const http2 = settings.http2

  const factory = secureServerFactory({
    server: serverSettings,
    http2,
    context: current.defaultContextOptions,
    // Read through `current`, so swapping the reference swaps SNI for new handshakes.
    sniCallback: (servername, cb) => cb(null, current.select(servername)),
    requestCert: settings.clientCa !== undefined,
    rejectUnauthorized: settings.requireClientCert,
  })
  // The verified client certificate, for the upstream (client-sent copies were dropped by the server's handler).
  const listener = opts.build(factory, (request, ctx) => {
    const cert = clientCertHeaders(request.socket as TLSSocket)
    // A fresh object when none exists: the per-connection one is shared and must stay intact.
    if (cert !== null) ctx.upstreamHeaders = Object.assign(ctx.upstreamHeaders ?? {}, cert)
  })
  const server = listener.server as unknown as SecureServer

  const sockets = new Set<Socket>()
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
    metrics.handshakeErrors.inc({ code: err.code ?? 'unknown' })
  })

  function publish(set: CertificateSet): void {
    metrics.expiry.reset()
    for (const c of set.certificates) metrics.expiry.set({ certificate: c.certFile }, Math.floor(c.validTo.getTime() / 1000))
    for (const w of set.warnings) log.warn({ path: w.path }, `TLS certificate: ${w.message}`)
  }

  let watcher: FileWatcher | undefined
  let watched = ''
  function watch(t: TlsSettings): void {
    const files = filesOf(t)
    const key = files.join('\0')
    if (watcher !== undefined && key === watched) return
    watcher?.close()
    watched = key
    watcher = watchFiles(files, () => void refresh(), {
      debounceMs: opts.rotation?.debounceMs ?? ROTATION_DEBOUNCE_MS,
      pollMs: opts.rotation?.pollMs ?? ROTATION_POLL_MS,
      ...(opts.rotation?.fsWatch !== undefined ? { fsWatch: opts.rotation.fsWatch } : {}),
      onWatchError: (dir, err) => log.warn({ dir, err: err.message }, 'cannot watch certificate directory; relying on the periodic check'),
    })
  }

  function apply(set: CertificateSet, t: TlsSettings): void {
    // Keep the session-ticket keys, so clients resume their sessions across a rotation.
    server.setSecureContext({ ...set.defaultContextOptions, ticketKeys: server.getTicketKeys() })
    current = set
    // Read per connection by tls.Server, so client-certificate policy applies to new handshakes.
    server.requestCert = t.clientCa !== undefined
    server.rejectUnauthorized = t.requireClientCert
    settings = t
    publish(set)
    watch(t)
  }

  let lastRejected = ''
  let running: Promise<RotationResult> | undefined
  let again = false
  async function rotateOnce(): Promise<RotationResult> {
    const t = settings
    const files = await readTlsFiles(t)
    if (files.digest === current.digest) return 'unchanged'
    // The same bad bytes as last time: already reported, stay quiet until they change.
    if (files.digest === lastRejected) return 'rejected'
    let set: CertificateSet
    try {
      set = buildCertificateSet(t, files)
    } catch (err) {
      if (!(err instanceof TlsCertificateError)) throw err
      lastRejected = files.digest
      metrics.rotations.inc({ result: 'rejected' })
      log.error({ type: 'tls', problems: err.problems.map((p) => `${p.path}: ${p.message}`) }, 'certificate files changed but cannot be used; the previous certificates keep serving')
      return 'rejected'
    }
    // A reload swapped the settings meanwhile: its certificates win.
    if (t !== settings) return 'unchanged'
    apply(set, t)
    lastRejected = ''
    metrics.rotations.inc({ result: 'applied' })
    log.info({ type: 'tls', certificates: set.certificates.map((c) => ({ file: c.certFile, subject: c.subject, validTo: c.validTo.toISOString() })) }, 'certificates rotated from disk')
    return 'applied'
  }

  /** One rotation at a time; a change seen meanwhile runs one more pass after it. */
  function refresh(): Promise<RotationResult> {
    if (running !== undefined) {
      again = true
      return running
    }
    running = (async () => {
      let result: RotationResult
      try {
        do {
          again = false
          result = await rotateOnce()
        } while (again)
      } catch (err) {
        log.error({ type: 'tls', err }, 'certificate rotation failed; the previous certificates keep serving')
        result = 'rejected'
      } finally {
        running = undefined
      }
      return result
    })()
    return running
  }

  await listener.listen(serverSettings.host, settings.port, opts.reusePort)
  const addr = server.address() as AddressInfo
  const url = urlOf(addr)
  publish(current)
  watch(settings)
  log.info({ httpsUrl: url, http2, certificates: current.certificates.map((c) => ({ file: c.certFile, serverNames: c.serverNames, validTo: c.validTo.toISOString() })) }, 'TLS listener ready')

  let closing: Promise<void> | undefined
  return {
    listener,
    url,
    port: addr.port,
    get certificates() {
      return current
    },
    redirectPort() {
      return handle.state.settings.server.tls?.redirectHttp === true ? addr.port : undefined
    },
    async prepare(next) {
      const t = next.server.tls
      if (t === undefined) return () => log.warn('server.tls was removed: the TLS listener keeps serving until a restart')
      let set: CertificateSet
      try {
        set = buildCertificateSet(t, await readTlsFiles(t))
      } catch (err) {
        if (err instanceof TlsCertificateError) throw new ConfigError(err.problems)
        throw err
      }
      return () => {
        if (t.port !== initial.port || t.http2 !== initial.http2) log.warn('server.tls port and http2 changes apply after a restart')
        apply(set, t)
        lastRejected = ''
        metrics.rotations.inc({ result: 'applied' })
      }
    },
    refresh,
    close() {
      return (closing ??= (async () => {
        watcher?.close()
        const timeout = handle.state.settings.server.shutdownTimeout
        const timer = setTimeout(() => {
          log.warn({ shutdownTimeout: timeout }, 'shutdown timeout reached; closing remaining TLS connections')
          for (const s of sockets) s.destroy()
        }, timeout)
        timer.unref()
        try {
          await listener.close()
        } finally {
          clearTimeout(timer)
        }
      })())
    },
  }
}
