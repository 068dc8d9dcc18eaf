/**
 * `streams:` → StreamSettings (layer-4 listeners), and the checks that tie streams and pools
 * together: a stream's pools exist and are layer-4 pools of its protocol, HTTP routes use HTTP
 * pools only, a fallback stays on its pool's layer, `sni` and `proxyProtocol` are tcp-only, and
 * no two listeners share a port.
 */
import type { AdminSettings, PoolSettings, ServerSettings, StreamSettings, StreamSniEntry } from './model.js'
import { DEFAULTS } from './defaults.js'
import { NAME, NAME_RULE } from './names.js'
import { childPath, indexPath } from './paths.js'
import { asArray, asDuration, asInteger, asObject, asString, type NormalizeContext } from './read.js'

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A pool's layer as a stream or route sees it. */
function layerOf(pool: PoolSettings): string {
  return pool.streamProtocol === undefined ? 'HTTP' : pool.streamProtocol === 'any' ? 'layer-4 (host:port)' : `${pool.streamProtocol}://`
}

function fitsStream(pool: PoolSettings, protocol: 'tcp' | 'udp'): boolean {
  return pool.streamProtocol === 'any' || pool.streamProtocol === protocol
}

const SNI_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/

export function normalizeStreams(
  raw: unknown,
  env: { readonly pools: readonly PoolSettings[]; readonly server: ServerSettings; readonly admin: AdminSettings | false },
  ctx: NormalizeContext,
): StreamSettings[] {
  const d = DEFAULTS.stream
  const pools = new Map(env.pools.map((p) => [p.name, p]))
  const streams: StreamSettings[] = []
  const names = new Map<string, number>()
  asArray(raw).forEach((item, i) => {
    const path = indexPath('streams', i)
    const o = asObject(item)
    if (o === undefined) return
    const name = asString(o['name']) ?? ''
    if (name !== '' && !NAME.test(name)) ctx.problem(childPath(path, 'name'), `invalid stream name "${name}": ${NAME_RULE}`)
    const earlier = names.get(name)
    if (earlier !== undefined) ctx.problem(childPath(path, 'name'), `duplicate stream name "${name}" (also streams[${earlier}])`)
    else names.set(name, i)
    const listen = asObject(o['listen']) ?? {}
    const protocol = o['protocol'] === 'udp' ? 'udp' : 'tcp'
    const stream: Mutable<StreamSettings> = {
      name,
      protocol,
      host: asString(listen['host']) ?? env.server.host,
      port: asInteger(listen['port'], 0),
      idleTimeout: asDuration(o['idleTimeout'], d.idleTimeout[protocol]),
      maxConnections: asInteger(o['maxConnections'], d.maxConnections),
      clientHelloTimeout: asDuration(o['clientHelloTimeout'], d.clientHelloTimeout),
    }
    const checkPool = (poolName: string, at: string): void => {
      const pool = pools.get(poolName)
      if (pool === undefined) ctx.problem(at, `unknown pool "${poolName}"`)
      else if (!fitsStream(pool, protocol)) {
        ctx.problem(at, `pool "${poolName}" has ${layerOf(pool)} backends; a ${protocol} stream needs ${protocol}:// or host:port backends`)
      }
    }
    const pool = asString(o['pool'])
    if (pool !== undefined) {
      stream.pool = pool
      checkPool(pool, childPath(path, 'pool'))
    }
    const sni = asObject(o['sni'])
    if (sni !== undefined) {
      const sniPath = childPath(path, 'sni')
      if (protocol === 'udp') ctx.problem(sniPath, 'SNI routing needs a TLS ClientHello: tcp streams only (DTLS is not supported)')
      const entries: StreamSniEntry[] = []
      for (const [serverName, target] of Object.entries(sni)) {
        const entryPath = childPath(sniPath, serverName)
        const lower = serverName.toLowerCase()
        if (!SNI_NAME.test(lower)) ctx.problem(entryPath, `"${serverName}" must be a DNS name or *.name (a wildcard covers one label)`)
        if (typeof target !== 'string') continue
        checkPool(target, entryPath)
        entries.push({ name: lower, pool: target })
      }
      stream.sni = entries
    }
    if (pool === undefined && (sni === undefined || Object.keys(sni).length === 0)) {
      ctx.problem(childPath(path, 'pool'), 'is required (or sni with at least one entry)')
    }
    const proxyProtocol = o['proxyProtocol']
    if (proxyProtocol === 'v1' || proxyProtocol === 'v2') {
      if (protocol === 'udp') ctx.problem(childPath(path, 'proxyProtocol'), 'is supported on tcp streams only')
      stream.proxyProtocol = proxyProtocol
    }
    if (o['clientHelloTimeout'] !== undefined && sni === undefined) {
      ctx.problem(childPath(path, 'clientHelloTimeout'), 'applies only with sni (TLS passthrough)')
    }
    streams.push(stream)
  })
  checkPorts(streams, env.server, env.admin, ctx)
  return streams
}

/** Two listeners of one transport on one port (port 0, an ephemeral port, never clashes). */
function checkPorts(streams: readonly StreamSettings[], server: ServerSettings, admin: AdminSettings | false, ctx: NormalizeContext): void {
  const tcp = new Map<number, string>()
  if (server.port !== 0) tcp.set(server.port, 'server.port')
  if (server.tls !== undefined && server.tls.port !== 0) tcp.set(server.tls.port, 'server.tls.port')
  if (admin !== false && admin.port !== 0 && !tcp.has(admin.port)) tcp.set(admin.port, 'admin.port')
  const udp = new Map<number, string>()
  streams.forEach((s, i) => {
    if (s.port === 0) return
    const taken = s.protocol === 'tcp' ? tcp : udp
    const other = taken.get(s.port)
    const at = childPath(childPath(indexPath('streams', i), 'listen'), 'port')
    if (other !== undefined) ctx.problem(at, `${s.protocol} port ${s.port} is already used by ${other}`)
    else taken.set(s.port, `streams[${i}] (${s.name})`)
  })
}

/**
 * HTTP routes (pool, split, mirror) use HTTP pools; a pool's fallback is a pool of the same
 * layer. Reads the raw routes for the paths users wrote (`pool` vs `split[1].pool`).
 */
export function checkPoolLayers(rawRoutes: unknown, pools: readonly PoolSettings[], ctx: NormalizeContext): void {
  const byName = new Map(pools.map((p) => [p.name, p]))
  const check = (name: unknown, at: string): void => {
    if (typeof name !== 'string') return
    const pool = byName.get(name)
    if (pool?.streamProtocol !== undefined) ctx.problem(at, `pool "${name}" has layer-4 backends (${layerOf(pool)}); HTTP routes need http:// or https:// backends`)
  }
  asArray(rawRoutes).forEach((item, i) => {
    const route = asObject(item)
    if (route === undefined) return
    const path = indexPath('routes', i)
    check(route['pool'], childPath(path, 'pool'))
    asArray(route['split']).forEach((entry, j) => check(asObject(entry)?.['pool'], childPath(indexPath(childPath(path, 'split'), j), 'pool')))
    check(asObject(route['mirror'])?.['pool'], childPath(childPath(path, 'mirror'), 'pool'))
  })
  for (const pool of pools) {
    const fallback = pool.fallback === undefined ? undefined : byName.get(pool.fallback)
    if (fallback === undefined) continue
    const a = pool.streamProtocol === undefined ? 'http' : 'l4'
    const b = fallback.streamProtocol === undefined ? 'http' : 'l4'
    const compatible = a === b && (a === 'http' || pool.streamProtocol === 'any' || fallback.streamProtocol === 'any' || pool.streamProtocol === fallback.streamProtocol)
    if (!compatible) {
      ctx.problem(childPath(childPath('pools', pool.name), 'fallback'), `pool "${fallback.name}" has ${layerOf(fallback)} backends, this pool ${layerOf(pool)} ones`)
    }
  }
}
