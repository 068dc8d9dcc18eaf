/**
 * A UDP stream listener: datagrams from one client address:port form a session, relayed to one
 * backend chosen through the pool walk when the session starts (balanced on the client address,
 * like NGINX `stream` with `udp`). Each session has its own connected socket towards the
 * backend, so replies are told apart by session; they are sent back to the client from the
 * listener's socket (the address the client wrote to, as it expects).
 *
 * A session ends after `idleTimeout` without a datagram either way. At most `maxConnections`
 * sessions exist at once; datagrams that would start another are dropped (UDP has no refusal).
 * While a session's backend is being chosen, a few datagrams wait (MAX_QUEUED), the rest drop.
 */
import dgram from 'node:dgram'
import { isIP } from 'node:net'
import type { StreamSettings } from '../config/model.js'
import { canonicalIp } from '../net/client-ip.js'
import type { Backend, Lease } from '../upstream/types.js'
import { backendAddress, connectThroughChain } from './connect.js'
import { newTotals, streamSnapshot, type CloseReason, type ListenerTotals, type StreamEnv, type StreamSnapshot } from './stream-env.js'

/** Datagrams held per session while its backend is chosen. */
const MAX_QUEUED = 16

interface UdpUpstream {
  readonly socket: dgram.Socket
  destroy(): void
}

interface UdpSession {
  readonly key: string
  readonly stream: string
  /** As received (what replies are sent to). */
  readonly replyTo: string
  /** Canonical (for balancing and logs). */
  readonly address: string
  readonly port: number
  readonly started: number
  readonly queue: Buffer[]
  upstream: UdpUpstream | undefined
  lease: Lease | undefined
  pool: string | undefined
  backend: string | undefined
  attempts: number
  connectMs: number | undefined
  bytesIn: number
  bytesOut: number
  reportedIn: number
  reportedOut: number
  timer: NodeJS.Timeout | undefined
  closed: boolean
}

function socketType(host: string): 'udp4' | 'udp6' {
  return isIP(host) === 6 ? 'udp6' : 'udp4'
}

/** A socket connected to the backend (a UDP "connect" only fixes the peer; it sends nothing). */
function connectUdp(backend: Backend): Promise<UdpUpstream> {
  const { host, port } = backendAddress(backend)
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(socketType(host))
    const onError = (err: Error): void => {
      socket.close()
      reject(err)
    }
    socket.once('error', onError)
    socket.connect(port, host, () => {
      socket.off('error', onError)
      resolve({
        socket,
        destroy: () => {
          try {
            socket.close()
          } catch {
            // already closed
          }
        },
      })
    })
  })
}

export class UdpStreamListener {
  #settings: StreamSettings
  readonly #env: StreamEnv
  readonly #socket: dgram.Socket
  readonly sessions = new Map<string, UdpSession>()
  readonly totals: ListenerTotals = newTotals()
  configured = true
  #bound = false

  constructor(settings: StreamSettings, env: StreamEnv) {
    this.#settings = settings
    this.#env = env
    this.#socket = dgram.createSocket({ type: socketType(settings.host), reuseAddr: false })
    this.#socket.on('message', (msg, rinfo) => this.#receive(msg, rinfo))
    this.#socket.on('error', () => {
      // A send to a vanished client (ICMP unreachable) surfaces here; nothing to do.
    })
  }

  get settings(): StreamSettings {
    return this.#settings
  }

  update(settings: StreamSettings): void {
    this.#settings = settings
  }

  get address(): { address: string; port: number } | undefined {
    return this.#bound ? this.#socket.address() : undefined
  }

  listen(): Promise<void> {
    const s = this.#settings
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err)
      this.#socket.once('error', onError)
      this.#socket.bind({ address: s.host, port: s.port, exclusive: true }, () => {
        this.#socket.off('error', onError)
        this.#bound = true
        resolve()
      })
    })
  }

  stopAccepting(): Promise<void> {
    return this.drain()
  }

  /** UDP sessions hold nothing a client would miss: they end with the listener. */
  async drain(): Promise<void> {
    for (const s of [...this.sessions.values()]) this.#close(s, 'shutdown')
    if (!this.#bound) return
    this.#bound = false
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()))
  }

  snapshot(): StreamSnapshot {
    let bytesIn = 0
    let bytesOut = 0
    let bufferedBytes = 0
    const pools: Record<string, number> = {}
    for (const s of this.sessions.values()) {
      bytesIn += s.bytesIn
      bytesOut += s.bytesOut
      for (const m of s.queue) bufferedBytes += m.length
      if (s.pool !== undefined) pools[s.pool] = (pools[s.pool] ?? 0) + 1
    }
    return streamSnapshot(this.#settings, this.address, this.totals, { active: this.sessions.size, bytesIn, bytesOut, bufferedBytes, pools }, this.configured)
  }

  takeLiveBytes(): { bytesIn: number; bytesOut: number } {
    let bytesIn = 0
    let bytesOut = 0
    for (const s of this.sessions.values()) {
      bytesIn += s.bytesIn - s.reportedIn
      bytesOut += s.bytesOut - s.reportedOut
      s.reportedIn = s.bytesIn
      s.reportedOut = s.bytesOut
    }
    return { bytesIn, bytesOut }
  }

  #receive(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const key = `${rinfo.address}|${rinfo.port}`
    let session = this.sessions.get(key)
    if (session === undefined) {
      const settings = this.#settings
      if (this.sessions.size >= settings.maxConnections) {
        this.totals.refused++
        return
      }
      this.totals.accepted++
      session = {
        key,
        stream: settings.name,
        replyTo: rinfo.address,
        address: canonicalIp(rinfo.address),
        port: rinfo.port,
        started: performance.now(),
        queue: [],
        upstream: undefined,
        lease: undefined,
        pool: settings.pool,
        backend: undefined,
        attempts: 0,
        connectMs: undefined,
        bytesIn: 0,
        bytesOut: 0,
        reportedIn: 0,
        reportedOut: 0,
        timer: undefined,
        closed: false,
      }
      this.sessions.set(key, session)
      const s = session
      s.timer = setTimeout(() => this.#close(s, 'idle-timeout'), settings.idleTimeout)
      s.queue.push(msg)
      s.bytesIn += msg.length
      void this.#start(s, settings)
      return
    }
    session.bytesIn += msg.length
    session.timer?.refresh()
    if (session.upstream !== undefined) session.upstream.socket.send(msg)
    else if (session.queue.length < MAX_QUEUED) session.queue.push(msg)
  }

  async #start(s: UdpSession, settings: StreamSettings): Promise<void> {
    if (settings.pool === undefined) return this.#close(s, 'no-pool')
    const env = this.#env
    const result = await connectThroughChain(env.pools, settings.pool, s.address, { aborted: () => s.closed }, connectUdp)
    s.attempts = result.attempts
    if ('error' in result) {
      if (result.error !== 'aborted') this.#close(s, result.error === 'no-backend' ? 'no-backend' : 'connect-failed')
      return
    }
    const up = result.socket
    s.upstream = up
    s.lease = result.lease
    s.pool = result.pool.name
    s.backend = result.backend.origin
    s.connectMs = result.connectMs
    env.opened(settings.name, result.pool.name)
    up.socket.on('message', (reply) => {
      if (s.closed) return
      s.bytesOut += reply.length
      s.timer?.refresh()
      this.#socket.send(reply, s.port, s.replyTo)
    })
    // ICMP port unreachable on a connected socket: nothing listens there (any more). UDP's only
    // equivalent of a refused connect, so it counts as one against the backend's breaker.
    up.socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') {
        result.pool.acquire(result.backend)?.end('failure', 0, 'connect-error')
        env.connectFailed?.(settings.name, result.pool, result.backend, err)
      }
      this.#close(s, 'backend-error')
    })
    for (const m of s.queue) up.socket.send(m)
    s.queue.length = 0
  }

  #close(s: UdpSession, reason: CloseReason): void {
    if (s.closed) return
    s.closed = true
    clearTimeout(s.timer)
    this.sessions.delete(s.key)
    s.upstream?.destroy()
    s.lease?.end('cancel', s.connectMs ?? 0)
    if (s.upstream === undefined && reason !== 'idle-timeout' && reason !== 'shutdown') this.totals.failed++
    this.totals.bytesIn += s.bytesIn
    this.totals.bytesOut += s.bytesOut
    this.#env.closed({
      stream: s.stream,
      protocol: 'udp',
      client: s.address,
      clientPort: s.port,
      pool: s.pool,
      backend: s.backend,
      sni: undefined,
      attempts: s.attempts,
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      unreportedIn: s.bytesIn - s.reportedIn,
      unreportedOut: s.bytesOut - s.reportedOut,
      connectMs: s.connectMs,
      durationMs: performance.now() - s.started,
      reason,
    })
  }
}
