/**
 * The edge policies of a route (`respond`, `redirect`, `match.clientIp`, `access`, `cors`,
 * `compress`, `apiKey`, `basicAuth`, `timeouts`, `bodyLimit`) → their normalised settings.
 * Everything a request would otherwise parse (CIDRs, origins, media types, key hashes) is
 * checked and put into one canonical form here, once; the features compile these further.
 */
import { isIP } from 'node:net'
import { canonicalIp } from '../net/client-ip.js'
import { TOKEN } from './key-source.js'
import { normalizeRetry } from './normalize-pools.js'
import type {
  RouteAccessSettings,
  RouteApiKeySettings,
  RouteBasicAuthSettings,
  RouteCompressSettings,
  RouteCorsSettings,
  RouteRedirectSettings,
  RouteRespondSettings,
  RetrySettings,
} from './model.js'
import { plainRecord, ordinaryRecord } from './plain-record.js'
import { childPath, indexPath } from './paths.js'
import { asArray, asBoolean, asObject, asSize, asString, type NormalizeContext, type RawObject } from './read.js'
import { tryParseDuration } from './units.js'

/** What `compress: true` means. */
export const COMPRESS_DEFAULTS = {
  encodings: ['br', 'gzip'] as const,
  minSize: 1024,
  // Text-like types: compressing images, video, archives or fonts other than SVG wastes CPU for nothing.
  types: [
    'text/*',
    'application/json',
    'application/*+json',
    'application/javascript',
    'application/xml',
    'application/*+xml',
    'application/x-ndjson',
    'application/graphql-response+json',
    'application/wasm',
    'image/svg+xml',
    'font/ttf',
    'font/otf',
  ],
} as const

// @fastify/cors's default.
export const CORS_DEFAULT_METHODS = ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'] as const
export const API_KEY_DEFAULT_HEADER = 'x-api-key'

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** The policy part of a route: merged into RouteSettings by normalizeRoute. */
export interface RoutePolicies {
  respond?: RouteRespondSettings
  redirect?: RouteRedirectSettings
  access?: RouteAccessSettings
  cors?: RouteCorsSettings
  compress?: RouteCompressSettings
  apiKey?: RouteApiKeySettings
  basicAuth?: RouteBasicAuthSettings
  timeouts?: { readonly response?: number }
  bodyLimit?: number
  retry?: RetrySettings
}

/**
 * A list of addresses and CIDRs in canonical form, each checked: `10.0.0.0/8`, `::1`,
 * `2001:db8::/32`. A network written with host bits set (`10.1.2.3/8`) is refused: it almost
 * always means a typo, and silently matching 10.0.0.0/8 would widen the rule.
 */
export function normalizeCidrList(raw: unknown, path: string, ctx: NormalizeContext): string[] {
  const out: string[] = []
  asArray(raw).forEach((item, i) => {
    if (typeof item !== 'string') return
    const itemPath = indexPath(path, i)
    const slash = item.indexOf('/')
    const addr = canonicalIp((slash < 0 ? item : item.slice(0, slash)).trim())
    const fam = isIP(addr)
    if (fam === 0) {
      ctx.problem(itemPath, `"${item}" is not an IP address or CIDR`)
      return
    }
    if (slash < 0) {
      out.push(addr)
      return
    }
    const bitsText = item.slice(slash + 1).trim()
    let bits = /^[0-9]{1,3}$/.test(bitsText) ? Number(bitsText) : NaN
    // An IPv4-mapped IPv6 network (::ffff:10.0.0.0/104) is the IPv4 network /8.
    if (fam === 4 && item.includes(':')) bits = bits >= 96 ? bits - 96 : NaN
    const max = fam === 4 ? 32 : 128
    if (!(bits >= 0 && bits <= max)) {
      ctx.problem(itemPath, `"${item}": prefix length must be 0-${max}`)
      return
    }
    if (!networkAligned(addr, fam, bits)) {
      ctx.problem(itemPath, `"${item}" has host bits set; write the network address (e.g. ${fam === 4 ? '10.0.0.0/8' : '2001:db8::/32'})`)
      return
    }
    out.push(`${addr}/${bits}`)
  })
  return out
}

function networkAligned(addr: string, fam: number, bits: number): boolean {
  const bytes = addressBytes(addr, fam)
  for (let bit = bits; bit < bytes.length * 8; bit++) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) return false
  }
  return true
}

function addressBytes(addr: string, fam: number): number[] {
  if (fam === 4) return addr.split('.').map(Number)
  // canonicalIp gave RFC 5952 form (no embedded IPv4 unless mapped, which became IPv4).
  const [head, tail] = addr.split('::') as [string, string | undefined]
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t]
  return groups.flatMap((g) => {
    const n = Number.parseInt(g, 16)
    return [n >> 8, n & 0xff]
  })
}

/** The normalised policies of one route; `hasPoolOrSplit` says whether `pool`/`split` was given. */
export function normalizeRoutePolicies(raw: RawObject, path: string, hasPoolOrSplit: boolean, hasMatchPath: boolean, ctx: NormalizeContext): RoutePolicies {
  const out: RoutePolicies = {}
  const respond = asObject(raw['respond'])
  const redirect = asObject(raw['redirect'])
  const actions = [hasPoolOrSplit ? 'pool/split' : undefined, respond ? 'respond' : undefined, redirect ? 'redirect' : undefined].filter((x) => x !== undefined)
  if (actions.length > 1) ctx.problem(path, `use exactly one of pool, split, respond, redirect (found ${actions.join(', ')})`)
  if (respond !== undefined) out.respond = normalizeRespond(respond, childPath(path, 'respond'), ctx)
  if (redirect !== undefined) out.redirect = normalizeRedirect(redirect, childPath(path, 'redirect'), hasMatchPath, ctx)
  if ((respond !== undefined || redirect !== undefined) && (raw['websocket'] === true || asObject(raw['websocket']) !== undefined)) {
    ctx.problem(childPath(path, 'websocket'), 'a respond or redirect route has no upstream to tunnel to')
  }
  if ((respond !== undefined || redirect !== undefined) && asObject(raw['mirror']) !== undefined) {
    ctx.problem(childPath(path, 'mirror'), 'a respond or redirect route sends nothing upstream to mirror')
  }

  const access = asObject(raw['access'])
  if (access !== undefined) {
    const accessPath = childPath(path, 'access')
    const allow = access['allow'] !== undefined ? normalizeCidrList(access['allow'], childPath(accessPath, 'allow'), ctx) : undefined
    const a: Mutable<RouteAccessSettings> = { deny: normalizeCidrList(access['deny'], childPath(accessPath, 'deny'), ctx) }
    if (allow !== undefined) a.allow = allow
    const countries = asObject(access['countries'])
    if (countries !== undefined) {
      const codes = (v: unknown): string[] => [...new Set(asArray(v).filter((c): c is string => typeof c === 'string').map((c) => c.toUpperCase()))]
      const c: { allow?: string[]; deny: string[] } = { deny: codes(countries['deny']) }
      if (countries['allow'] !== undefined) c.allow = codes(countries['allow'])
      a.countries = c
    }
    if (a.allow === undefined && a.deny.length === 0 && a.countries === undefined) ctx.problem(accessPath, 'needs allow, deny or countries')
    out.access = a
  }

  const cors = asObject(raw['cors'])
  if (cors !== undefined) out.cors = normalizeCors(cors, childPath(path, 'cors'), ctx)

  const compress = raw['compress']
  if (compress === true) out.compress = { encodings: [...COMPRESS_DEFAULTS.encodings], minSize: COMPRESS_DEFAULTS.minSize, types: [...COMPRESS_DEFAULTS.types] }
  else if (asObject(compress) !== undefined) {
    const c = asObject(compress)!
    const encodings = asArray(c['encodings']).filter((e): e is 'br' | 'gzip' => e === 'br' || e === 'gzip')
    const types = asArray(c['types']).filter((t): t is string => typeof t === 'string').map((t) => t.trim().toLowerCase())
    types.forEach((t, i) => {
      if (!/^[a-z0-9!#$&^_.+-]+\/([a-z0-9!#$&^_.+-]+|\*|\*\+[a-z0-9!#$&^_.+-]+)$/.test(t)) ctx.problem(indexPath(childPath(childPath(path, 'compress'), 'types'), i), `"${t}" is not a media type (type/subtype or type/*)`)
    })
    out.compress = {
      encodings: encodings.length > 0 ? [...new Set(encodings)] : [...COMPRESS_DEFAULTS.encodings],
      minSize: asSize(c['minSize'], COMPRESS_DEFAULTS.minSize),
      types: c['types'] !== undefined ? types : [...COMPRESS_DEFAULTS.types],
    }
  }

  const apiKey = asObject(raw['apiKey'])
  if (apiKey !== undefined) {
    const p = childPath(path, 'apiKey')
    const header = asString(apiKey['header']) ?? API_KEY_DEFAULT_HEADER
    if (!TOKEN.test(header)) ctx.problem(childPath(p, 'header'), `"${header}" is not a valid header name`)
    const keys: { name: string; hash: string }[] = []
    const names = new Set<string>()
    const hashes = new Set<string>()
    asArray(apiKey['keys']).forEach((k, i) => {
      const o = asObject(k)
      const name = asString(o?.['name'])
      const hash = asString(o?.['hash'])
      if (name === undefined || hash === undefined) return
      const kp = indexPath(childPath(p, 'keys'), i)
      const m = /^sha256:([0-9a-fA-F]{64})$/.exec(hash)
      if (m === null) ctx.problem(childPath(kp, 'hash'), 'must be sha256: followed by the 64 hex digits of the SHA-256 of the key')
      if (names.has(name)) ctx.problem(childPath(kp, 'name'), `duplicate key name "${name}"`)
      const hex = m?.[1]!.toLowerCase() ?? ''
      if (m !== null && hashes.has(hex)) ctx.problem(childPath(kp, 'hash'), 'the same key is listed twice')
      names.add(name)
      hashes.add(hex)
      keys.push({ name, hash: hex })
    })
    const a: Mutable<RouteApiKeySettings> = { header: header.toLowerCase(), keys }
    const query = asString(apiKey['query'])
    if (query !== undefined) a.query = query
    out.apiKey = a
  }

  const basicAuth = asObject(raw['basicAuth'])
  if (basicAuth !== undefined) {
    const p = childPath(path, 'basicAuth')
    const realm = asString(basicAuth['realm']) ?? asString(raw['name']) ?? 'switchyard'
    // RFC 7617 §2: the realm is a quoted-string; a quote or backslash would need escaping and a
    // control character could split the header.
    if (/["\\\u0000-\u001f\u007f]/.test(realm)) ctx.problem(childPath(p, 'realm'), 'must not contain quotes, backslashes or control characters')
    const users: { name: string; hash: string }[] = []
    const names = new Set<string>()
    asArray(basicAuth['users']).forEach((u, i) => {
      const o = asObject(u)
      const name = asString(o?.['name'])
      const hash = asString(o?.['hash'])
      if (name === undefined || hash === undefined) return
      // RFC 7617 §2: the user-id cannot contain a colon.
      if (name.includes(':')) ctx.problem(childPath(indexPath(childPath(p, 'users'), i), 'name'), 'must not contain ":" (RFC 7617 §2)')
      if (names.has(name)) ctx.problem(childPath(indexPath(childPath(p, 'users'), i), 'name'), `duplicate user "${name}"`)
      names.add(name)
      users.push({ name, hash })
    })
    out.basicAuth = { realm, users }
    if (raw['jwt'] !== undefined && raw['jwt'] !== false) ctx.problem(p, 'cannot be combined with jwt on one route: both read the Authorization header')
  }

  const timeouts = asObject(raw['timeouts'])
  if (timeouts !== undefined) {
    const response = tryParseDuration(timeouts['response'])
    if (response === 0) ctx.problem(childPath(childPath(path, 'timeouts'), 'response'), 'must be longer than 0')
    out.timeouts = response === undefined ? {} : { response }
  }
  const retry = asObject(raw['retry'])
  if (retry !== undefined) out.retry = normalizeRetry(retry)
  if (raw['bodyLimit'] !== undefined) {
    const limit = asSize(raw['bodyLimit'], -1)
    if (limit >= 0) out.bodyLimit = limit
  }
  return out
}

function normalizeRespond(raw: RawObject, path: string, ctx: NormalizeContext): RouteRespondSettings {
  const status = typeof raw['status'] === 'number' ? raw['status'] : 200
  const body = asString(raw['body']) ?? ''
  const headers: Record<string, string> = plainRecord()
  for (const [name, value] of Object.entries(asObject(raw['headers']) ?? {})) {
    if (typeof value !== 'string') continue
    const hp = childPath(childPath(path, 'headers'), name)
    if (!TOKEN.test(name)) ctx.problem(hp, `"${name}" is not a valid header name`)
    if (/[\r\n\0]/.test(value)) ctx.problem(hp, 'value must not contain CR, LF or NUL')
    const lower = name.toLowerCase()
    // The gateway frames the body itself.
    if (lower === 'content-length' || lower === 'transfer-encoding') ctx.problem(hp, 'is set by the gateway')
    headers[lower] = value
  }
  // RFC 9110 §15.3.5, §15.4.5: 204 and 304 have no content.
  if ((status === 204 || status === 304) && body !== '') ctx.problem(childPath(path, 'body'), `a ${status} response has no body`)
  if (body !== '' && headers['content-type'] === undefined) headers['content-type'] = 'text/plain; charset=utf-8'
  return { status, headers: ordinaryRecord(headers), body }
}

function normalizeRedirect(raw: RawObject, path: string, hasMatchPath: boolean, ctx: NormalizeContext): RouteRedirectSettings {
  const to = asString(raw['to']) ?? '/'
  const toPath = childPath(path, 'to')
  if (/[\r\n\0\s]/.test(to)) ctx.problem(toPath, 'must not contain whitespace or control characters')
  else if (to.startsWith('//')) ctx.problem(toPath, 'a scheme-relative target ("//host") is ambiguous: write https://host')
  else if (!to.startsWith('/')) {
    try {
      const u = new URL(to)
      if (u.protocol !== 'http:' && u.protocol !== 'https:') ctx.problem(toPath, 'must be an http(s) URL or a path starting with "/"')
    } catch {
      ctx.problem(toPath, 'must be an absolute http(s) URL or a path starting with "/"')
    }
  }
  const keepQuery = asBoolean(raw['keepQuery'], false)
  if (keepQuery && to.includes('?')) ctx.problem(childPath(path, 'keepQuery'), '`to` already has a query; keepQuery would make two')
  const keepPath = asBoolean(raw['keepPath'], false)
  if (keepPath && to.includes('?')) ctx.problem(childPath(path, 'keepPath'), '`to` has a query; the kept path cannot follow it')
  void hasMatchPath
  const status = raw['status']
  return {
    to,
    status: status === 301 || status === 302 || status === 303 || status === 307 || status === 308 ? status : 302,
    keepPath,
    keepQuery,
  }
}

/** An origin as browsers send it: scheme://host[:port], lower case, no path. */
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/(\*\.)?[a-z0-9.\-[\]:]+$/

function normalizeCors(raw: RawObject, path: string, ctx: NormalizeContext): RouteCorsSettings {
  const origins: string[] = []
  asArray(raw['origins']).forEach((o, i) => {
    if (typeof o !== 'string') return
    const lower = o.trim().toLowerCase().replace(/\/$/, '')
    if (lower !== '*' && !ORIGIN.test(lower)) {
      ctx.problem(indexPath(childPath(path, 'origins'), i), `"${o}" is not an origin (scheme://host[:port]), a pattern (https://*.example.com) or "*"`)
      return
    }
    origins.push(lower)
  })
  const credentials = asBoolean(raw['credentials'], false)
  // Fetch standard (CORS protocol): a credentialed response may not say "*"; @fastify/cors
  // would reflect the origin instead, which silently trusts every site with the user's cookies.
  if (credentials && origins.includes('*')) ctx.problem(childPath(path, 'credentials'), 'credentials cannot be allowed for every origin ("*"): list the origins')
  const list = (key: string, upper: boolean): string[] => {
    const out: string[] = []
    asArray(raw[key]).forEach((v, i) => {
      if (typeof v !== 'string') return
      if (!TOKEN.test(v)) ctx.problem(indexPath(childPath(path, key), i), `"${v}" is not a valid ${key === 'methods' ? 'method' : 'header name'}`)
      const n = upper ? v.toUpperCase() : v.toLowerCase()
      if (!out.includes(n)) out.push(n)
    })
    return out
  }
  const cors: Mutable<RouteCorsSettings> = {
    origins,
    methods: raw['methods'] === undefined ? [...CORS_DEFAULT_METHODS] : list('methods', true),
    exposeHeaders: list('exposeHeaders', false),
    credentials,
  }
  if (raw['headers'] !== undefined) cors.headers = list('headers', false)
  const maxAge = tryParseDuration(raw['maxAge'])
  if (maxAge !== undefined) cors.maxAge = maxAge
  return cors
}
