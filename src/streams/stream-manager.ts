/**
 * The layer-4 listeners of one gateway (`streams:`): started with the gateway, reconciled on
 * reload, drained on shutdown, and reported through `GET /api/streams`, metrics and the log.
 *
 * A listener is identified by its transport and address (protocol, host, port; by name for
 * port 0). A reload that keeps the address keeps the listening socket and its open connections,
 * and new connections follow the new settings (pool, sni, proxyProtocol, limits). A new address
 * is bound before the reload commits (a bind failure rejects the reload, naming the stream);
 * a listener the reload removed stops accepting at once and closes after its connections end,
 * or after `server.shutdownTimeout`.
 */
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { ConfigError } from '../config/errors.js'
import type { GatewaySettings, StreamSettings } from '../config/model.js'
import { childPath, indexPath } from '../config/paths.js'
import { ListenError } from '../listen-error.js'
import type { AccessLog } from '../log/access-log.js'
import type { GatewayMetrics } from '../metrics.js'
import { metricsOnce } from '../metrics.js'
import type { TrustMatcher } from '../net/client-ip.js'
import type { PoolRegistry } from '../upstream/types.js'
import type { ConnectionRecord, StreamEnv, StreamSnapshot } from './stream-env.js'
import { TcpStreamListener } from './tcp-listener.js'
import { UdpStreamListener } from './udp-listener.js'

type Listener = TcpStreamListener | UdpStreamListener

export interface StreamManagerOptions {
  readonly pools: PoolRegistry
  readonly metrics: GatewayMetrics
  readonly log: Logger
  /** The live settings (access log switch, shutdownTimeout) and trustedProxies. */
  settings(): GatewaySettings
  trust(): TrustMatcher
  /**
   * The gateway's access log (`log.access`: its file, or the gateway log), where one line per
   * closed connection goes; undefined when it is off. Without this option lines go to `log`.
   */
  access?(): Pick<AccessLog, 'sampled' | 'writeLine'> | undefined
}

interface StreamMetrics {
  readonly connections: Counter<'stream' | 'pool'>
  readonly bytes: Counter<'stream' | 'direction'>
  /** The manager whose open connections are counted at scrape time. */
  live: StreamManager | undefined
}

function streamMetrics(registry: Registry): StreamMetrics {
  return metricsOnce(registry, 'streams', () => {
    const m: StreamMetrics = {
      connections: new Counter({
        name: 'switchyard_stream_connections_total',
        help: 'Layer-4 connections (tcp) and sessions (udp) relayed, by stream and serving pool',
        labelNames: ['stream', 'pool'] as const,
        registers: [registry],
      }),
      bytes: new Counter({
        name: 'switchyard_stream_bytes_total',
        help: 'Bytes relayed by layer-4 streams: in = from clients, out = to clients',
        labelNames: ['stream', 'direction'] as const,
        registers: [registry],
        // Open connections' bytes so far, so a long-lived connection shows up before it closes.
        collect() {
          m.live?.collectLiveBytes()
        },
      }),
      live: undefined,
    }
    return m
  })
}

/** The identity of a listening socket across reloads. */
function keyOf(s: StreamSettings): string {
  return s.port === 0 ? `${s.protocol}|#${s.name}` : `${s.protocol}|${s.host}|${s.port}`
}

function create(s: StreamSettings, env: StreamEnv): Listener {
  return s.protocol === 'udp' ? new UdpStreamListener(s, env) : new TcpStreamListener(s, env)
}

export class StreamManager {
  readonly #o: StreamManagerOptions
  readonly #metrics: StreamMetrics
  readonly #env: StreamEnv
  /** Configured listeners by key, in configuration order. */
  #listeners = new Map<string, Listener>()
  /** Removed by a reload, finishing their connections. */
  readonly #retiring = new Set<Listener>()

  constructor(o: StreamManagerOptions) {
    this.#o = o
    this.#metrics = streamMetrics(o.metrics.registry)
    this.#metrics.live = this
    const m = this.#metrics
    this.#env = {
      pools: o.pools,
      trusted: (address) => {
        const t = o.trust()
        return !t.empty && t.isTrusted(address)
      },
      connectFailed: (stream, pool, backend, err) => {
        o.metrics.upstreamErrors.inc({ pool: pool.name, kind: 'connect-error' })
        o.log.debug({ stream, pool: pool.name, backend: backend.origin, err: (err as NodeJS.ErrnoException).code ?? err.message }, 'stream connect failed')
      },
      opened: (stream, pool) => m.connections.inc({ stream, pool }),
      closed: (r) => this.#closed(r),
    }
  }

  /** Binds every configured listener; on a failure closes those bound and throws a ListenError. */
  async start(streams: readonly StreamSettings[]): Promise<void> {
    const started: Listener[] = []
    for (const s of streams) {
      const l = create(s, this.#env)
      try {
        await l.listen()
      } catch (err) {
        await Promise.allSettled(started.map((x) => x.drain(0)))
        throw ListenError.from(err, `stream ${s.name}`, s.host, s.port)
      }
      started.push(l)
      this.#listeners.set(keyOf(s), l)
    }
  }

  /**
   * Binds the listeners `next` adds and returns the commit that swaps the set; throws a
   * ConfigError naming the stream when one cannot bind (nothing changed then).
   */
  async prepare(next: GatewaySettings): Promise<{ commit(): void; discard(): Promise<void> }> {
    const fresh = new Map<string, Listener>()
    const added: Listener[] = []
    for (const [i, s] of next.streams.entries()) {
      const key = keyOf(s)
      const kept = this.#listeners.get(key)
      if (kept !== undefined && kept.settings.protocol === s.protocol) {
        fresh.set(key, kept)
        continue
      }
      const l = create(s, this.#env)
      try {
        await l.listen()
      } catch (err) {
        await Promise.allSettled(added.map((x) => x.drain(0)))
        const reason = (ListenError.from(err, `stream ${s.name}`, s.host, s.port) as Error).message
        throw new ConfigError([{ path: childPath(childPath(indexPath('streams', i), 'listen'), 'port'), message: reason }])
      }
      added.push(l)
      fresh.set(key, l)
    }
    const commit = (): void => {
      const byKey = new Map(next.streams.map((s) => [keyOf(s), s]))
      for (const [key, l] of fresh) l.update(byKey.get(key)!)
      for (const [key, l] of this.#listeners) {
        if (fresh.get(key) === l) continue
        l.configured = false
        this.#retiring.add(l)
        void l.drain(next.server.shutdownTimeout).finally(() => this.#retiring.delete(l))
      }
      this.#listeners = fresh
    }
    return { commit, discard: async () => void (await Promise.allSettled(added.map((x) => x.drain(0)))) }
  }

  /** `GET /api/streams`: configured listeners in order, then those still finishing. */
  snapshot(): StreamSnapshot[] {
    return [...this.#listeners.values(), ...this.#retiring].map((l) => l.snapshot())
  }

  /** A configured listener's bound address, by stream name (tests, the CLI's start line). */
  address(name: string): { address: string; port: number } | undefined {
    for (const l of this.#listeners.values()) if (l.settings.name === name) return l.address
    return undefined
  }

  collectLiveBytes(): void {
    for (const l of [...this.#listeners.values(), ...this.#retiring]) {
      const { bytesIn, bytesOut } = l.takeLiveBytes()
      const name = l.settings.name
      if (bytesIn > 0) this.#metrics.bytes.inc({ stream: name, direction: 'in' }, bytesIn)
      if (bytesOut > 0) this.#metrics.bytes.inc({ stream: name, direction: 'out' }, bytesOut)
    }
  }

  /** Stops accepting everywhere; open connections get up to `timeout` ms to end. */
  async close(timeout: number): Promise<void> {
    const all = [...this.#listeners.values(), ...this.#retiring]
    for (const l of all) l.configured = false
    await Promise.allSettled(all.map((l) => l.drain(timeout)))
    this.#listeners.clear()
    this.#retiring.clear()
  }

  #closed(r: ConnectionRecord): void {
    if (r.unreportedIn > 0) this.#metrics.bytes.inc({ stream: r.stream, direction: 'in' }, r.unreportedIn)
    if (r.unreportedOut > 0) this.#metrics.bytes.inc({ stream: r.stream, direction: 'out' }, r.unreportedOut)
    const line = {
        stream: r.stream,
        protocol: r.protocol,
        client: r.client,
        clientPort: r.clientPort,
        pool: r.pool,
        backend: r.backend,
        sni: r.sni,
        attempts: r.attempts,
        bytesIn: r.bytesIn,
        bytesOut: r.bytesOut,
        connectMs: r.connectMs === undefined ? undefined : Math.round(r.connectMs * 10) / 10,
        durationMs: Math.round(r.durationMs),
        reason: r.reason,
      }
    // One line per closed connection, beside the HTTP access lines (same file, same sampling).
    if (this.#o.access !== undefined) {
      const access = this.#o.access()
      if (access === undefined || !access.sampled()) return
      const json = JSON.stringify(line)
      access.writeLine('stream', json.length > 2 ? `,${json.slice(1, -1)}` : '', 'stream')
      return
    }
    const settings = this.#o.settings().log.access
    if (!settings.enabled || (settings.sample < 1 && Math.random() >= settings.sample)) return
    this.#o.log.info({ type: 'stream', ...line }, 'stream')
  }
}
