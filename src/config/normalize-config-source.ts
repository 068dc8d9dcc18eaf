/**
 * `configSource:` → ConfigSourceSettings. Today one source, etcd (as Apache APISIX keeps its
 * configuration): the local file holds what one instance needs to start (server, admin, log,
 * configSource), the value at `key` holds the rest (src/config-source/).
 */
import type { ConfigSourceSettings, EtcdSourceSettings } from './model.js'
import { asArray, asDuration, asObject, asString, type NormalizeContext, type RawObject } from './read.js'

export const DEFAULT_ETCD_KEY = '/switchyard/config'
const DEFAULT_DIAL_TIMEOUT = 3_000
const DEFAULT_LEASE_TTL = 5_000

export function normalizeConfigSource(raw: RawObject | undefined, _source: string | undefined, ctx: NormalizeContext): ConfigSourceSettings | undefined {
  if (raw === undefined) return undefined
  const etcd = asObject(raw['etcd'])
  if (etcd === undefined) return undefined
  const endpoints: string[] = []
  asArray(etcd['endpoints']).forEach((e, i) => {
    if (typeof e !== 'string') return
    let url: URL | undefined
    try {
      url = new URL(e)
    } catch {
      url = undefined
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname.length > 1) {
      ctx.problem(`configSource.etcd.endpoints[${i}]`, `"${e}" must be an http:// or https:// URL with a host and port and no path`)
      return
    }
    endpoints.push(e)
  })
  const key = asString(etcd['key']) ?? DEFAULT_ETCD_KEY
  const runtimeKey = asString(etcd['runtimeKey']) ?? `${key}/runtime`
  if (runtimeKey === key) ctx.problem('configSource.etcd.runtimeKey', 'must differ from configSource.etcd.key')
  const fleetKey = (asString(etcd['fleetKey']) ?? `${key}/fleet`).replace(/\/+$/, '')
  if (fleetKey === '' || fleetKey === key || fleetKey === runtimeKey || key.startsWith(`${fleetKey}/`) || runtimeKey.startsWith(`${fleetKey}/`)) {
    ctx.problem('configSource.etcd.fleetKey', 'must be a prefix of its own: neither key nor runtimeKey may be under it')
  }
  const leaseTtl = asDuration(etcd['leaseTtl'], DEFAULT_LEASE_TTL)
  // etcd leases are granted in whole seconds, and etcd raises a shorter TTL to its minimum (2 s
  // with its default timings): a smaller value would not mean what it says.
  if (leaseTtl < 2_000 || leaseTtl % 1000 !== 0) ctx.problem('configSource.etcd.leaseTtl', 'must be whole seconds, at least 2s (etcd grants leases in seconds)')
  const settings: { -readonly [K in keyof EtcdSourceSettings]: EtcdSourceSettings[K] } = {
    endpoints,
    key,
    runtimeKey,
    fleetKey,
    leaseTtl,
    dialTimeout: asDuration(etcd['dialTimeout'], DEFAULT_DIAL_TIMEOUT),
  }
  const username = asString(etcd['username'])
  const password = asString(etcd['password'])
  if ((username === undefined) !== (password === undefined)) ctx.problem('configSource.etcd', 'username and password go together')
  if (username !== undefined && password !== undefined) {
    settings.username = username
    settings.password = password
  }
  const tls = asObject(etcd['tls'])
  if (tls !== undefined) {
    const out: { ca?: string; cert?: string; key?: string } = {}
    for (const k of ['ca', 'cert', 'key'] as const) {
      const v = asString(tls[k])
      if (v !== undefined) out[k] = ctx.file(`configSource.etcd.tls.${k}`, v)
    }
    if ((out.cert === undefined) !== (out.key === undefined)) ctx.problem('configSource.etcd.tls', 'cert and key go together')
    settings.tls = out
  }
  return { etcd: settings }
}
