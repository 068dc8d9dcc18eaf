/**
 * A TCP stream listener (NGINX `stream`, HAProxy `mode tcp`): each accepted connection gets a
 * backend through the one pool walk (src/streams/connect.ts), then bytes are spliced both ways.
 *
 * Per connection:
 * 1. Preface, only when needed: from a peer in `trustedProxies`, a PROXY v1/v2 header is read
 *    (the real client behind an outer L4 balancer); with `sni`, the TLS ClientHello is peeked
 *    (never terminated) to pick the pool. Both are bounded in bytes and by `clientHelloTimeout`.
 * 2. Connect through the pool chain (connect timeout, retries on another backend, breaker,
 *    fallback, last resort), balancing on the client address.
 * 3. Send our own PROXY header when `proxyProtocol` is set, then the peeked bytes untouched,
 *    then pipe both ways: `pipe` gives backpressure (a slow reader pauses the fast writer, so
 *    memory stays bounded whatever the transfer size), and `allowHalfOpen` forwards a FIN one
 *    way while the other direction keeps flowing (RFC 9293 §3.6 half-close).
 * 4. Idle for `idleTimeout` (no bytes either way) → both sides closed.
 *
 * The settings a connection started with stay with it: a reload changes what new connections
 * do, never the ones already spliced.
 */
import net from 'node:net'
import type { StreamSettings } from '../config/model.js'
import { canonicalIp } from '../net/client-ip.js'
import { parseClientHello, MAX_HELLO } from './client-hello.js'
import { connectThroughChain } from './connect.js'
import { parseProxyHeader, proxyHeader } from './proxy-protocol.js'
import { compileSniRouter, type SniRouter } from './sni-router.js'
import { newTotals, streamSnapshot, type CloseReason, type ListenerTotals, type StreamEnv, type StreamSnapshot } from './stream-env.js'

const EMPTY: Buffer = Buffer.alloc(0)

/** One spliced connection, as the listener tracks it. */
interface TcpConnection {
  readonly client: net.Socket
  backend: net.Socket | undefined
  pool: string | undefined
  /** Bytes already reported to metrics (live connections are reported at scrape time). */
  reportedIn: number
  reportedOut: number
  close(reason: CloseReason): void
}

export class TcpStreamListener {
  #settings: StreamSettings
  #router: SniRouter
  readonly #env: StreamEnv
  readonly #server: net.Server
  readonly connections = new Set<TcpConnection>()
  readonly totals: ListenerTotals = newTotals()
  /** False once a reload removed it. */
  configured = true
  #drained: (() => void) | undefined

  constructor(settings: StreamSettings, env: StreamEnv) {
    this.#settings = settings
    this.#router = compileSniRouter(settings)
    this.#env = env
    // pauseOnConnect: nothing is read before we know what to do with it (preface or splice).
    this.#server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => this.#accept(socket))
  }

  get settings(): StreamSettings {
    return this.#settings
  }

  /** New settings for new connections (a reload kept this listener's address). */
  update(settings: StreamSettings): void {
    this.#settings = settings
    this.#router = compileSniRouter(settings)
  }

  get address(): net.AddressInfo | undefined {
    return (this.#server.address() as net.AddressInfo | null) ?? undefined
  }

  listen(): Promise<void> {
    const s = this.#settings
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err)
      this.#server.once('error', onError)
      this.#server.listen({ host: s.host, port: s.port }, () => {
        this.#server.off('error', onError)
        resolve()
      })
    })
  }

  /** Stops accepting; open connections continue. */
  stopAccepting(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) return resolve()
      this.#server.close(() => resolve())
    })
  }

  /** Stops accepting, then waits for open connections to end; after `timeout` ms closes them. */
  async drain(timeout: number): Promise<void> {
    await Promise.all([
      this.stopAccepting(),
      this.connections.size === 0
        ? undefined
        : new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              for (const c of [...this.connections]) c.close('shutdown')
            }, timeout)
            timer.unref()
            this.#drained = () => {
              clearTimeout(timer)
              resolve()
            }
          }),
    ])
  }

  /** Live totals: closed connections' bytes plus what the open ones moved so far. */
  snapshot(): StreamSnapshot {
    let bytesIn = 0
    let bytesOut = 0
    let bufferedBytes = 0
    const pools: Record<string, number> = {}
    for (const c of this.connections) {
      bytesIn += c.client.bytesRead
      bytesOut += c.client.bytesWritten
      bufferedBytes += c.client.writableLength + c.client.readableLength + (c.backend === undefined ? 0 : c.backend.writableLength + c.backend.readableLength)
      if (c.pool !== undefined) pools[c.pool] = (pools[c.pool] ?? 0) + 1
    }
    return streamSnapshot(this.#settings, this.address, this.totals, { active: this.connections.size, bytesIn, bytesOut, bufferedBytes, pools }, this.configured)
  }

  /** Bytes the open connections moved since last asked (for the bytes counter at scrape time). */
  takeLiveBytes(): { bytesIn: number; bytesOut: number } {
    let bytesIn = 0
    let bytesOut = 0
    for (const c of this.connections) {
      bytesIn += c.client.bytesRead - c.reportedIn
      bytesOut += c.client.bytesWritten - c.reportedOut
      c.reportedIn = c.client.bytesRead
      c.reportedOut = c.client.bytesWritten
    }
    return { bytesIn, bytesOut }
  }

  #accept(client: net.Socket): void {
    const settings = this.#settings
    const router = this.#router
    if (this.connections.size >= settings.maxConnections) {
      this.totals.refused++
      client.destroy()
      return
    }
    this.totals.accepted++
    const env = this.#env
    const started = performance.now()
    const peer = canonicalIp(client.remoteAddress ?? '')
    let clientIp = peer
    let clientPort = client.remotePort ?? 0
    let sni: string | undefined
    let backendUrl: string | undefined
    let attempts = 0
    let connectMs: number | undefined
    let reason: CloseReason | undefined
    let closedSockets = 0
    let finished = false
    let releaseLease: (() => void) | undefined
    const conn: TcpConnection = {
      client,
      backend: undefined,
      pool: undefined,
      reportedIn: 0,
      reportedOut: 0,
      close: (r) => {
        reason ??= r
        client.destroy()
        conn.backend?.destroy()
      },
    }
    this.connections.add(conn)

    const finish = (): void => {
      if (finished) return
      finished = true
      releaseLease?.()
      this.connections.delete(conn)
      if (conn.backend === undefined && reason !== 'client-closed' && reason !== 'client-error') this.totals.failed++
      this.totals.bytesIn += client.bytesRead
      this.totals.bytesOut += client.bytesWritten
      env.closed({
        stream: settings.name,
        protocol: 'tcp',
        client: clientIp,
        clientPort,
        pool: conn.pool,
        backend: backendUrl,
        sni,
        attempts,
        bytesIn: client.bytesRead,
        bytesOut: client.bytesWritten,
        unreportedIn: client.bytesRead - conn.reportedIn,
        unreportedOut: client.bytesWritten - conn.reportedOut,
        connectMs,
        durationMs: performance.now() - started,
        reason: reason ?? 'client-closed',
      })
      if (this.connections.size === 0) this.#drained?.()
    }

    // Until a backend is attached, the client alone decides the connection's end.
    client.on('error', () => {
      reason ??= 'client-error'
      conn.backend?.destroy()
    })
    client.on('end', () => {
      reason ??= 'client-closed'
    })
    client.on('close', () => {
      reason ??= 'client-closed'
      const b = conn.backend
      if (b === undefined) return finish()
      // The client is gone whole: whatever the backend still has to say has nowhere to go.
      if (!b.destroyed) {
        if (client.errored || reason === 'idle-timeout' || reason === 'shutdown') b.destroy()
        else b.end()
      }
      if (++closedSockets === 2) finish()
    })

    const callbacks = {
      setAttempts: (n: number) => (attempts = n),
      setBackend: (url: string, ms: number, release: () => void) => {
        backendUrl = url
        connectMs = ms
        releaseLease = release
      },
      setReason: (r: CloseReason) => (reason ??= r),
      backendClosed: () => {
        if (++closedSockets === 2) finish()
      },
    }
    const needProxyHeader = env.trusted(peer)
    const needHello = settings.sni !== undefined
    if (!needProxyHeader && !needHello) {
      void this.#connect(conn, settings, router(undefined), [], clientIp, clientPort, client.localAddress, client.localPort, callbacks)
      return
    }

    // The preface: bytes read before the backend is chosen, bounded in size and time.
    const chunks: Buffer[] = []
    let size = 0
    let offset = 0 // bytes of a received PROXY header, not forwarded
    let proxyDone = !needProxyHeader
    let data: Buffer = EMPTY
    const proceed = (pool: string | undefined): void => {
      clearTimeout(timer)
      client.off('data', onData)
      client.pause()
      const rest = data.subarray(offset)
      // The closures of this connection outlive the preface: drop what they would keep alive.
      chunks.length = 0
      data = EMPTY
      void this.#connect(conn, settings, pool, rest.length > 0 ? [rest] : [], clientIp, clientPort, client.localAddress, client.localPort, callbacks)
    }
    // A trusted peer that sends no PROXY header in time (a server-speaks-first protocol, an
    // outer balancer not configured for it) is served with its own address; a TLS client that
    // sends no ClientHello in time is closed.
    const timer = setTimeout(() => {
      if (needHello) conn.close('client-hello-timeout')
      else if (size > 0) conn.close('bad-proxy-header') // the start of a PROXY header, never finished
      else proceed(router(undefined))
    }, settings.clientHelloTimeout)
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      size += chunk.length
      data = chunks.length === 1 ? chunk : Buffer.concat(chunks)
      if (!proxyDone) {
        const h = parseProxyHeader(data)
        if (h.status === 'incomplete') return
        if (h.status === 'invalid') return conn.close('bad-proxy-header')
        proxyDone = true
        if (h.status === 'ok') {
          offset = h.length
          if (h.source !== undefined) {
            clientIp = canonicalIp(h.source.address)
            clientPort = h.source.port
          }
        }
      }
      let pool: string | undefined
      if (needHello) {
        if (size - offset > MAX_HELLO + 1024 + 5) return conn.close('bad-client-hello')
        const hello = parseClientHello(data.subarray(offset))
        if (hello.status === 'incomplete') return
        if (hello.status === 'invalid') return conn.close('bad-client-hello')
        sni = hello.serverName
        pool = router(sni)
      } else pool = router(undefined)
      proceed(pool)
    }
    client.on('close', () => clearTimeout(timer))
    client.on('data', onData)
    client.resume()
  }

  async #connect(
    conn: TcpConnection,
    settings: StreamSettings,
    poolName: string | undefined,
    pending: Buffer[],
    clientIp: string,
    clientPort: number,
    localAddress: string | undefined,
    localPort: number | undefined,
    cb: {
      setAttempts(n: number): void
      setBackend(url: string, connectMs: number, release: () => void): void
      setReason(r: CloseReason): void
      backendClosed(): void
    },
  ): Promise<void> {
    const client = conn.client
    if (poolName === undefined) {
      cb.setReason('no-pool')
      client.destroy()
      return
    }
    conn.pool = poolName
    const env = this.#env
    const result = await connectThroughChain(env.pools, poolName, clientIp, {
      aborted: () => client.destroyed,
      onFailure: (pool, backend, err) => env.connectFailed?.(settings.name, pool, backend, err),
    })
    cb.setAttempts(result.attempts)
    if ('error' in result) {
      if (result.error !== 'aborted') cb.setReason(result.error === 'no-backend' ? 'no-backend' : 'connect-failed')
      client.destroy()
      return
    }
    const backend = result.socket
    const lease = result.lease
    if (client.destroyed) {
      backend.destroy()
      lease.end('cancel', result.connectMs)
      return
    }
    conn.pool = result.pool.name
    conn.backend = backend
    cb.setBackend(result.backend.origin, result.connectMs, () => lease.end('cancel', result.connectMs))
    env.opened(settings.name, result.pool.name)

    backend.setTimeout(settings.idleTimeout)
    client.setTimeout(settings.idleTimeout)
    const onIdle = (): void => conn.close('idle-timeout')
    backend.on('timeout', onIdle)
    client.on('timeout', onIdle)
    backend.on('error', () => {
      cb.setReason('backend-error')
      client.destroy()
    })
    backend.on('end', () => cb.setReason('backend-closed'))
    backend.on('close', () => {
      cb.setReason('backend-closed')
      if (!client.destroyed) {
        if (backend.errored) client.destroy()
        else client.end()
      }
      cb.backendClosed()
    })

    if (settings.proxyProtocol !== undefined) {
      backend.write(
        proxyHeader(settings.proxyProtocol, {
          sourceAddress: clientIp,
          sourcePort: clientPort,
          destAddress: localAddress ?? '',
          destPort: localPort ?? 0,
        }),
      )
    }
    for (const chunk of pending) backend.write(chunk)
    // A client that already sent its FIN during the preface has no 'end' left to pipe.
    if (client.readableEnded) backend.end()
    else client.pipe(backend)
    backend.pipe(client)
  }
}
