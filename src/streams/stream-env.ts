/**
 * What a stream listener needs of the gateway, and what it reports back: the live pool registry,
 * the trustedProxies matcher, and one record per connection (or UDP session) as it opens and
 * closes (the stream manager turns those into metrics and access-log lines).
 */
import type { StreamSettings } from '../config/model.js'
import type { Backend, Pool, PoolRegistry } from '../upstream/types.js'

export interface StreamEnv {
  readonly pools: PoolRegistry
  /** True when `address` is one of `server.trustedProxies` (read per connection: reloads change it). */
  trusted(address: string): boolean
  /** A connect try on a backend failed (for logs). */
  connectFailed?(stream: string, pool: Pool, backend: Backend, error: Error): void
  /** A connection (or session) reached a backend. */
  opened(stream: string, pool: string): void
  /** A connection (or session) ended; called once, with its final byte counts. */
  closed(record: ConnectionRecord): void
}

/** Why a connection ended. */
export type CloseReason =
  | 'client-closed'
  | 'backend-closed'
  | 'client-error'
  | 'backend-error'
  | 'idle-timeout'
  | 'no-backend'
  | 'connect-failed'
  | 'client-hello-timeout'
  | 'bad-client-hello'
  | 'bad-proxy-header'
  | 'no-pool'
  | 'shutdown'

export interface ConnectionRecord {
  readonly stream: string
  readonly protocol: 'tcp' | 'udp'
  readonly client: string
  readonly clientPort: number
  readonly pool: string | undefined
  readonly backend: string | undefined
  readonly sni: string | undefined
  readonly attempts: number
  /** Bytes from the client (in) and to the client (out). */
  readonly bytesIn: number
  readonly bytesOut: number
  /** The part of those not yet counted in metrics (open connections are counted at scrape time). */
  readonly unreportedIn: number
  readonly unreportedOut: number
  readonly connectMs: number | undefined
  readonly durationMs: number
  readonly reason: CloseReason
}

/** Counters a listener keeps for `GET /api/streams`. */
export interface ListenerTotals {
  accepted: number
  refused: number
  failed: number
  /** Bytes of connections that already closed (live ones are added when read). */
  bytesIn: number
  bytesOut: number
}

export const newTotals = (): ListenerTotals => ({ accepted: 0, refused: 0, failed: 0, bytesIn: 0, bytesOut: 0 })

/** The `GET /api/streams` entry of one listener. */
export interface StreamSnapshot {
  readonly name: string
  readonly protocol: 'tcp' | 'udp'
  readonly listen: { readonly host: string; readonly port: number }
  readonly pool: string | null
  readonly sni: Readonly<Record<string, string>> | null
  readonly proxyProtocol: 'v1' | 'v2' | null
  /** Open connections (tcp) or sessions (udp). */
  readonly active: number
  readonly maxConnections: number
  readonly accepted: number
  readonly refused: number
  readonly failed: number
  readonly bytesIn: number
  readonly bytesOut: number
  /** Bytes the gateway holds for open connections now (socket buffers both ways; UDP: queued datagrams). */
  readonly bufferedBytes: number
  /** Open connections per pool. */
  readonly pools: Readonly<Record<string, number>>
  /** False once removed by a reload, while its last connections finish. */
  readonly configured: boolean
}

/** What a listener's open connections (tcp) or sessions (udp) add to its totals right now. */
export interface LiveCounts {
  readonly active: number
  readonly bytesIn: number
  readonly bytesOut: number
  readonly bufferedBytes: number
  readonly pools: Readonly<Record<string, number>>
}

/** A listener's snapshot (`GET /api/streams`): its settings, address, totals and what is open now. */
export function streamSnapshot(s: StreamSettings, address: { address: string; port: number } | undefined, totals: ListenerTotals, live: LiveCounts, configured: boolean): StreamSnapshot {
  return {
    name: s.name,
    protocol: s.protocol,
    pool: s.pool ?? null,
    sni: s.sni === undefined ? null : Object.fromEntries(s.sni.map((e) => [e.name, e.pool])),
    proxyProtocol: s.proxyProtocol ?? null,
    maxConnections: s.maxConnections,
    listen: { host: address?.address ?? s.host, port: address?.port ?? s.port },
    active: live.active,
    accepted: totals.accepted,
    refused: totals.refused,
    failed: totals.failed,
    bytesIn: totals.bytesIn + live.bytesIn,
    bytesOut: totals.bytesOut + live.bytesOut,
    bufferedBytes: live.bufferedBytes,
    pools: live.pools,
    configured,
  }
}
