/**
 * `switchyard explain --stream NAME [--sni HOST] [--ip ADDR]`: where a layer-4 connection would
 * go, offline: the stream, the SNI entry that matches (exact, wildcard or the default pool), and
 * the pool chain's backends in the order the data plane would try them, the same preview
 * (upstream/pool-chain.ts) explain uses for HTTP requests.
 */
import type { StreamSettings } from '../config/model.js'
import type { RuntimeState } from '../runtime-state.js'
import { streamKeyInput } from '../streams/connect.js'
import { compileSniRouter } from '../streams/sni-router.js'
import { explainPools, type ExplainAnswer, type PoolStep } from './explain.js'

export interface StreamExplainInput {
  readonly stream: string
  /** The ClientHello server name (streams with `sni`). */
  readonly sni?: string
  /** Client address; default 127.0.0.1 (ip-hash, consistent-hash). */
  readonly clientIp?: string
}

export interface StreamExplainAnswer {
  readonly stream: string
  readonly protocol: 'tcp' | 'udp'
  readonly listen: { readonly host: string; readonly port: number }
  /** How the pool was chosen: the stream's pool, an SNI entry, or the SNI default. */
  readonly selection: { readonly by: 'pool' | 'sni' | 'sni-default'; readonly entry?: string; readonly serverName?: string | null }
  readonly pool: string | null
  readonly proxyProtocol: 'v1' | 'v2' | null
  readonly clientIp: string
  readonly pools: readonly PoolStep[]
  readonly backend: ExplainAnswer['backend']
  readonly outcome: { readonly action: 'connect' | 'close'; readonly message: string }
}

const trimDot = (name: string): string => (name.endsWith('.') ? name.slice(0, -1) : name)

/** The `sni` entry a server name matches, as written in the file (the router's rules). */
function sniEntry(stream: StreamSettings, serverName: string | undefined): string | undefined {
  if (serverName === undefined || stream.sni === undefined) return undefined
  const n = trimDot(serverName)
  const exact = stream.sni.find((e) => trimDot(e.name) === n)
  if (exact !== undefined) return exact.name
  const dot = n.indexOf('.')
  return dot > 0 ? stream.sni.find((e) => trimDot(e.name) === `*.${n.slice(dot + 1)}`)?.name : undefined
}

/** Undefined when no stream has that name. */
export function explainStream(state: Pick<RuntimeState, 'settings' | 'pools'>, input: StreamExplainInput): StreamExplainAnswer | undefined {
  const stream = state.settings.streams.find((s) => s.name === input.stream)
  if (stream === undefined) return undefined
  const clientIp = input.clientIp ?? '127.0.0.1'
  const serverName = input.sni?.toLowerCase()
  const pool = compileSniRouter(stream)(serverName)
  const entry = sniEntry(stream, serverName)
  const selection: StreamExplainAnswer['selection'] =
    stream.sni === undefined ? { by: 'pool' } : entry !== undefined ? { by: 'sni', entry, serverName: serverName ?? null } : { by: 'sni-default', serverName: serverName ?? null }
  const { pools, backend } = pool === undefined ? { pools: [], backend: null } : explainPools(state, pool, streamKeyInput(clientIp))
  const outcome: StreamExplainAnswer['outcome'] =
    pool === undefined
      ? { action: 'close', message: 'no SNI entry matches and the stream has no default pool: the connection is closed' }
      : backend === null
        ? { action: 'close', message: `no backend of pool "${pool}" or its fallbacks can be tried: the connection is closed` }
        : { action: 'connect', message: `connect to ${backend.url}${stream.proxyProtocol ? ` and send a PROXY ${stream.proxyProtocol} header` : ''}` }
  return {
    stream: stream.name,
    protocol: stream.protocol,
    listen: { host: stream.host, port: stream.port },
    selection,
    pool: pool ?? null,
    proxyProtocol: stream.proxyProtocol ?? null,
    clientIp,
    pools,
    backend,
    outcome,
  }
}
