/**
 * The client's country, for `match.country` and `access.countries`, from the `geoip` settings:
 *
 * - `header`: a country code set by a CDN in front of the gateway (Cloudflare's `CF-IPCountry`,
 *   CloudFront's `CloudFront-Viewer-Country`, Fastly's, ...). Believed only when the TCP peer is
 *   one of `server.trustedProxies`: from anyone else it is a client's claim about itself.
 * - `database`: a MaxMind DB file (GeoLite2-Country, GeoIP2-Country, DB-IP's country files; any
 *   MMDB whose records carry `country.iso_code`), read with the `maxmind` reader, looked up by the
 *   client address (trustedProxies resolved); decoded records are cached.
 *
 * The header, when configured and believed, wins over the database. Codes are ISO 3166-1
 * alpha-2, upper case. Unknown: undefined.
 *
 * Loaded once per configuration, at start and on every reload (so a reload picks up a new
 * database file; an unchanged file, same path, modification time, size and inode, is not read again). A file
 * that cannot be read or is no MMDB is a configuration problem at `geoip.database`.
 */
import { readFileSync, statSync } from 'node:fs'
import type { IncomingHttpHeaders } from 'node:http'
import type { CountryResponse, Reader } from 'maxmind'
import { lazyModule } from '../lazy-module.js'

const maxmind = lazyModule<typeof import('maxmind')>('maxmind')
import { ConfigError } from '../config/errors.js'
import type { GeoipSettings } from '../config/model.js'

export interface GeoResolver {
  country(clientIp: string, headers: IncomingHttpHeaders, peerTrusted: boolean): string | undefined
  /** Where the answer came from, for explain. */
  readonly sources: readonly ('header' | 'database')[]
}

/** Only `country.iso_code` (or `registered_country.iso_code`) is read; other fields may be absent. */
type CountryRecord = CountryResponse

const CODE = /^[A-Za-z]{2}$/
let memo: { key: string; resolver: GeoResolver } | undefined

function openReader(file: string): Reader<CountryRecord> {
  let buf: Buffer
  try {
    buf = readFileSync(file)
  } catch (err) {
    throw new ConfigError([{ path: 'geoip.database', message: `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` }])
  }
  try {
    // mmdb-lib caches decoded records by data offset: a country file has a few hundred, so a
    // plain bounded map is enough.
    const records = new Map<string | number, unknown>()
    const cache = {
      get: (k: string | number) => records.get(k),
      set: (k: string | number, v: unknown) => {
        if (records.size >= 4096) records.clear()
        records.set(k, v)
      },
    }
    return new (maxmind().Reader)<CountryRecord>(buf, { cache })
  } catch (err) {
    throw new ConfigError([{ path: 'geoip.database', message: `${file} is not a MaxMind DB file (${(err as Error).message})` }])
  }
}

/** The resolver of `settings`, or undefined when there is no `geoip` section. Throws ConfigError. */
export function loadGeo(settings: GeoipSettings | undefined): GeoResolver | undefined {
  if (settings === undefined) return undefined
  let stamp = ''
  if (settings.database !== undefined) {
    try {
      const st = statSync(settings.database)
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`
    } catch {
      stamp = 'missing'
    }
  }
  const key = JSON.stringify([settings.database, settings.header, stamp])
  if (memo?.key === key) return memo.resolver
  const reader = settings.database !== undefined ? openReader(settings.database) : undefined
  const header = settings.header
  const sources: ('header' | 'database')[] = []
  if (header !== undefined) sources.push('header')
  if (reader !== undefined) sources.push('database')
  const fromDb = (ip: string): string | undefined => {
    let rec: CountryRecord | null
    try {
      rec = reader!.get(ip)
    } catch {
      return undefined // not an address the database can look up
    }
    const code = rec?.country?.iso_code ?? rec?.registered_country?.iso_code
    return code === undefined ? undefined : code.toUpperCase()
  }
  const resolver: GeoResolver = {
    sources,
    country(clientIp, headers, peerTrusted) {
      if (header !== undefined && peerTrusted) {
        const h = headers[header]
        const v = Array.isArray(h) ? h[0] : h
        if (v !== undefined && CODE.test(v)) return v.toUpperCase()
      }
      return reader === undefined ? undefined : fromDb(clientIp)
    },
  }
  memo = { key, resolver }
  return resolver
}
