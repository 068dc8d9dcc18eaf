/**
 * `routes:` → RouteSettings: shorthands expanded (`pool:` → one split entry, `jwt: true`),
 * names lower-cased where matching is case-insensitive, regexes compiled once to prove they
 * compile, and the checks that relate routes to pools and to the jwt section.
 */
import { ordinaryRecord, plainRecord } from './plain-record.js'
import type {
  HeaderMatch,
  HeaderRewriteSettings,
  KeySource,
  MirrorCompareSettings,
  RouteJwtSettings,
  RouteMatchSettings,
  RouteSettings,
  SplitTarget,
} from './model.js'
import { DEFAULTS } from './defaults.js'
import { normalizeCanary } from './normalize-canary.js'
import { parseKeySource, TOKEN } from './key-source.js'
import { NAME, NAME_RULE } from './names.js'
import { isWeight } from './normalize-pools.js'
import { childPath, indexPath } from './paths.js'
import {
  asArray,
  asBoolean,
  asDuration,
  asNumber,
  asObject,
  asSize,
  asString,
  type NormalizeContext,
  type RawObject,
} from './read.js'
import { tryParseDuration } from './units.js'
import { normalizeCidrList, normalizeRoutePolicies } from './normalize-policies.js'

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

export interface RouteEnvironment {
  readonly pools: ReadonlySet<string>
  readonly jwtConfigured: boolean
  /** Names a route's jwt.issuers may use: the jwtIssuers, and `default` when `jwt` is configured. */
  readonly jwtIssuers?: ReadonlySet<string>
  /** Whether a `geoip` section exists (match.country and access.countries need it). */
  readonly geoConfigured?: boolean
}

export function normalizeRoutes(raw: unknown, env: RouteEnvironment, ctx: NormalizeContext): RouteSettings[] {
  const routes: RouteSettings[] = []
  const names = new Map<string, number>()
  asArray(raw).forEach((item, i) => {
    const path = indexPath('routes', i)
    const route = asObject(item)
    if (route === undefined) return
    const name = asString(route['name'])
    if (name !== undefined) {
      const namePath = childPath(path, 'name')
      const earlier = names.get(name)
      if (!NAME.test(name)) ctx.problem(namePath, `invalid route name "${name}": ${NAME_RULE}`)
      else if (earlier !== undefined) ctx.problem(namePath, `duplicate route name "${name}" (also routes[${earlier}])`)
      else names.set(name, i)
    }
    routes.push(normalizeRoute(name ?? `#${i}`, route, path, env, ctx))
  })
  return routes
}

function normalizeRoute(name: string, raw: RawObject, path: string, env: RouteEnvironment, ctx: NormalizeContext): RouteSettings {
  const d = DEFAULTS.route
  const match = normalizeMatch(asObject(raw['match']) ?? {}, childPath(path, 'match'), ctx)
  const route: Mutable<RouteSettings> = {
    name,
    match,
    split: isAction(raw) ? [] : normalizeSplit(raw, path, env, ctx),
    stickyCookie: { ttl: asDuration(asObject(raw['stickyCookie'])?.['ttl'], d.stickyCookieTtl) },
    websocket: asObject(raw['websocket']) !== undefined || asBoolean(raw['websocket'], d.websocket),
    headers: {
      request: normalizeRewrite(asObject(asObject(raw['headers'])?.['request']), childPath(childPath(path, 'headers'), 'request'), ctx),
      response: normalizeRewrite(asObject(asObject(raw['headers'])?.['response']), childPath(childPath(path, 'headers'), 'response'), ctx),
    },
  }

  if (route.websocket) route.websocketIdleTimeout = asDuration(asObject(raw['websocket'])?.['idleTimeout'], d.websocketIdleTimeout)
  if (raw['passHost'] === true) route.passHost = true
  Object.assign(route, normalizeRoutePolicies(raw, path, raw['pool'] !== undefined || raw['split'] !== undefined, match.path !== undefined, ctx))
  if (match.country !== undefined && env.geoConfigured !== true) ctx.problem(childPath(childPath(path, 'match'), 'country'), 'needs the top-level geoip section (where countries come from)')
  if (route.access?.countries !== undefined && env.geoConfigured !== true) ctx.problem(childPath(childPath(path, 'access'), 'countries'), 'needs the top-level geoip section (where countries come from)')

  const rewritePrefix = asString(raw['rewritePrefix'])
  if (rewritePrefix !== undefined) {
    const rewritePath = childPath(path, 'rewritePrefix')
    if (match.path === undefined) ctx.problem(rewritePath, 'needs match.path (the prefix it replaces)')
    if (rewritePrefix !== '' && !rewritePrefix.startsWith('/')) ctx.problem(rewritePath, 'must be "" or start with "/"')
    route.rewritePrefix = rewritePrefix
  }

  const sticky = keySource(raw['sticky'], childPath(path, 'sticky'), ctx)
  if (sticky?.kind === 'apikey') ctx.problem(childPath(path, 'sticky'), '"apikey" is a rate-limit key only')
  else if (sticky !== undefined) route.sticky = sticky

  const jwt = normalizeRouteJwt(raw['jwt'], childPath(path, 'jwt'), env, ctx)
  if (jwt !== undefined) route.jwt = jwt

  const override = asString(raw['override'])
  if (override !== undefined) {
    const overridePath = childPath(path, 'override')
    const header = override.toLowerCase()
    if (!TOKEN.test(override)) ctx.problem(overridePath, `"${override}" is not a valid header name`)
    const claim = Object.entries(jwt?.forwardClaims ?? {}).find(([, h]) => h === header)?.[0]
    if (claim !== undefined) {
      ctx.problem(overridePath, `header "${header}" is also set from claim "${claim}" (jwt.forwardClaims); use another header`)
    }
    route.override = header
  }

  const rateLimitRaw = raw['rateLimit']
  const rateLimitItems = Array.isArray(rateLimitRaw) ? rateLimitRaw : rateLimitRaw === undefined ? [] : [rateLimitRaw]
  const limits: RouteSettings['rateLimit'][] = []
  rateLimitItems.forEach((item, i) => {
    const rateLimit = asObject(item)
    if (rateLimit === undefined) return
    const rlPath = Array.isArray(rateLimitRaw) ? indexPath(childPath(path, 'rateLimit'), i) : childPath(path, 'rateLimit')
    const window = asDuration(rateLimit['window'], 0)
    if (tryParseDuration(rateLimit['window']) === 0) ctx.problem(childPath(rlPath, 'window'), 'must be longer than 0')
    const limit: Mutable<NonNullable<RouteSettings['rateLimit']>> = {
      max: typeof rateLimit['max'] === 'number' ? rateLimit['max'] : 1,
      window,
      key: keySource(rateLimit['key'] ?? d.rateLimit.key, childPath(rlPath, 'key'), ctx) ?? { kind: 'ip' },
      onStoreError: rateLimit['onStoreError'] === 'deny' ? 'deny' : d.rateLimit.onStoreError,
    }
    if (rateLimit['algorithm'] === 'gcra') limit.algorithm = 'gcra'
    const tiers = asObject(rateLimit['tiers'])
    if (tiers !== undefined) {
      const t: Record<string, number> = plainRecord()
      for (const [value, m] of Object.entries(tiers)) if (typeof m === 'number' && Number.isInteger(m) && m >= 1) t[value] = m
      if (limit.key.kind === 'ip' || limit.key.kind === 'route' || limit.key.kind === 'path') {
        ctx.problem(childPath(rlPath, 'tiers'), `tiers need a consumer key (apikey, jwt:CLAIM, header:NAME, cookie:NAME, query:NAME), not ${limit.key.kind}`)
      }
      limit.tiers = ordinaryRecord(t)
    }
    limits.push(limit)
    if (limit.key.kind === 'apikey' && raw['apiKey'] === undefined && raw['basicAuth'] === undefined) {
      ctx.problem(childPath(rlPath, 'key'), '"apikey" needs apiKey or basicAuth on this route (the consumer is known after authentication)')
    }
    // A claim key needs verified claims: without `jwt` on the route every client would share
    // the IP fallback bucket, which is not what the key says.
    if (limit.key.kind === 'jwt' && jwt === undefined && env.jwtConfigured) {
      ctx.problem(childPath(rlPath, 'key'), `"jwt:${limit.key.claim}" needs \`jwt\` on this route (claims are only known after verification)`)
    }
  })
  if (limits.length > 0) route.rateLimit = limits[0]
  if (Array.isArray(rateLimitRaw) && limits.length > 0) route.rateLimits = limits as NonNullable<RouteSettings['rateLimit']>[]

  const cache = asObject(raw['cache'])
  if (cache !== undefined) {
    route.cache = {
      ttl: asDuration(cache['ttl'], d.cache.ttl),
      staleWhileRevalidate: asDuration(cache['staleWhileRevalidate'], d.cache.staleWhileRevalidate),
      staleIfError: asDuration(cache['staleIfError'], d.cache.staleIfError),
      staleIfDisconnected: asDuration(cache['staleIfDisconnected'], d.cache.staleIfDisconnected),
      storeSetCookie: asBoolean(cache['storeSetCookie'], d.cache.storeSetCookie),
    }
  }

  const canary = normalizeCanary(raw['canary'], route.split, childPath(path, 'canary'), ctx)
  if (canary !== undefined) route.canary = canary

  const mirror = asObject(raw['mirror'])
  if (mirror !== undefined) {
    const pool = asString(mirror['pool'])
    if (pool !== undefined) {
      if (!env.pools.has(pool)) ctx.problem(childPath(childPath(path, 'mirror'), 'pool'), `unknown pool "${pool}"`)
      route.mirror = {
        pool,
        percent: asNumber(mirror['percent'], d.mirror.percent),
        maxBodySize: asSize(mirror['maxBodySize'], d.mirror.maxBodySize),
        ...normalizeMirrorCompare(mirror['compare'], childPath(childPath(path, 'mirror'), 'compare'), ctx),
      }
    }
  }
  // The divergence gate judges the candidate's shadow answers: the route must mirror to it and compare.
  if (route.canary?.gates.maxDivergence !== undefined && (route.mirror?.compare === undefined || route.mirror.pool !== route.canary.candidate)) {
    ctx.problem(childPath(childPath(childPath(path, 'canary'), 'gates'), 'maxDivergence'), `needs the route's mirror to the candidate pool "${route.canary.candidate}" with compare`)
  }
  return route
}

function normalizeMatch(raw: RawObject, path: string, ctx: NormalizeContext): RouteMatchSettings {
  const match: Mutable<RouteMatchSettings> = {}
  const given = (['path', 'pathExact', 'pathRegex'] as const).filter((k) => typeof raw[k] === 'string')
  if (given.length > 1) ctx.problem(path, `use only one of path, pathExact, pathRegex (found ${given.join(', ')})`)
  for (const key of ['path', 'pathExact'] as const) {
    const value = asString(raw[key])
    if (value === undefined) continue
    if (!value.startsWith('/')) ctx.problem(childPath(path, key), 'must start with "/"')
    match[key] = value
  }
  const pathRegex = asString(raw['pathRegex'])
  if (pathRegex !== undefined) {
    const error = regexError(pathRegex)
    if (error !== undefined) ctx.problem(childPath(path, 'pathRegex'), error)
    match.pathRegex = pathRegex
  }
  const host = asString(raw['host'])
  if (host !== undefined) {
    const lower = host.toLowerCase()
    if (!/^(\*\.)?[a-z0-9_\-.[\]:]+$/.test(lower) || lower.includes('..')) {
      ctx.problem(childPath(path, 'host'), `"${host}" must be a host name, or *.domain for a wildcard`)
    }
    // Matching ignores the request's port, so a configured one could never match.
    else if (/^(\[[^\]]*\]|[^:]*):[0-9]+$/.test(lower)) {
      ctx.problem(childPath(path, 'host'), `"${host}" must not include a port: matching ignores the port`)
    }
    match.host = lower
  }
  if (Array.isArray(raw['methods'])) {
    const methods: string[] = []
    raw['methods'].forEach((m, i) => {
      if (typeof m !== 'string') return
      if (!TOKEN.test(m)) ctx.problem(indexPath(childPath(path, 'methods'), i), `"${m}" is not a valid method`)
      const upper = m.toUpperCase()
      if (!methods.includes(upper)) methods.push(upper)
    })
    match.methods = methods
  }
  const headers = asObject(raw['headers'])
  if (headers !== undefined) {
    const out: Record<string, HeaderMatch> = plainRecord()
    const headersPath = childPath(path, 'headers')
    for (const [name, condition] of Object.entries(headers)) {
      const headerPath = childPath(headersPath, name)
      const lower = name.toLowerCase()
      if (!TOKEN.test(name)) ctx.problem(headerPath, `"${name}" is not a valid header name`)
      if (Object.hasOwn(out, lower)) ctx.problem(headerPath, `header "${lower}" is listed twice (names are case-insensitive)`)
      const parsed = headerMatch(condition, headerPath, ctx)
      if (parsed !== undefined) out[lower] = parsed
    }
    match.headers = ordinaryRecord(out)
  }
  if (raw['clientIp'] !== undefined) match.clientIp = normalizeCidrList(raw['clientIp'], childPath(path, 'clientIp'), ctx)
  if (Array.isArray(raw['country'])) match.country = [...new Set(raw['country'].filter((c): c is string => typeof c === 'string').map((c) => c.toUpperCase()))]
  return match
}

/** A route answered by the gateway itself (`respond:` or `redirect:`) has no pool. */
function isAction(raw: RawObject): boolean {
  return asObject(raw['respond']) !== undefined || asObject(raw['redirect']) !== undefined
}

function headerMatch(condition: unknown, path: string, ctx: NormalizeContext): HeaderMatch | undefined {
  if (typeof condition === 'string') return { kind: 'exact', value: condition }
  const o = asObject(condition)
  if (o === undefined) return undefined
  const regex = asString(o['regex'])
  const present = o['present']
  if ((regex === undefined) === (typeof present !== 'boolean')) {
    ctx.problem(path, 'needs exactly one of regex or present')
    return undefined
  }
  if (regex !== undefined) {
    const error = regexError(regex)
    if (error !== undefined) ctx.problem(childPath(path, 'regex'), error)
    return { kind: 'regex', source: regex }
  }
  return { kind: 'present', present: present as boolean }
}

function regexError(source: string): string | undefined {
  try {
    new RegExp(source)
    return undefined
  } catch (error) {
    return (error as Error).message
  }
}

function normalizeSplit(raw: RawObject, path: string, env: RouteEnvironment, ctx: NormalizeContext): SplitTarget[] {
  const pool = asString(raw['pool'])
  const split = raw['split']
  if (pool !== undefined && split !== undefined) {
    ctx.problem(path, 'use pool or split, not both')
  }
  if (pool === undefined && split === undefined) {
    ctx.problem(path, 'needs pool, split, respond or redirect (where matching requests go)')
    return []
  }
  if (pool !== undefined) {
    if (!env.pools.has(pool)) ctx.problem(childPath(path, 'pool'), `unknown pool "${pool}"`)
    return [{ pool, weight: 1 }]
  }
  const splitPath = childPath(path, 'split')
  const targets: SplitTarget[] = []
  const seen = new Map<string, number>()
  asArray(split).forEach((item, i) => {
    const entry = asObject(item)
    const entryPath = indexPath(splitPath, i)
    const target = asString(entry?.['pool'])
    if (entry === undefined || target === undefined) return
    if (!env.pools.has(target)) ctx.problem(childPath(entryPath, 'pool'), `unknown pool "${target}"`)
    const earlier = seen.get(target)
    if (earlier !== undefined) ctx.problem(childPath(entryPath, 'pool'), `pool "${target}" is already in the split (split[${earlier}])`)
    seen.set(target, i)
    const weight = entry['weight']
    if (weight !== undefined && !isWeight(weight)) ctx.problem(childPath(entryPath, 'weight'), 'must be a non-negative integer')
    // An invalid weight is already reported; counting it as 1 avoids a second, derived problem.
    targets.push({ pool: target, weight: isWeight(weight) ? weight : 1 })
  })
  if (targets.length > 0 && targets.every((t) => t.weight === 0)) {
    ctx.problem(splitPath, 'all split weights are 0: no pool can receive traffic')
  }
  return targets
}

function normalizeRouteJwt(raw: unknown, path: string, env: RouteEnvironment, ctx: NormalizeContext): RouteJwtSettings | undefined {
  if (raw === undefined || raw === false) return undefined
  const o = raw === true ? {} : asObject(raw)
  if (o === undefined) return undefined
  const issuersRaw = o['issuers']
  let issuers: string[] | undefined
  if (Array.isArray(issuersRaw)) {
    issuers = []
    issuersRaw.forEach((n, i) => {
      if (typeof n !== 'string') return
      if (!(env.jwtIssuers ?? new Set()).has(n)) {
        ctx.problem(indexPath(childPath(path, 'issuers'), i), n === 'default' ? '"default" needs the top-level jwt section' : `unknown issuer "${n}" (not in jwtIssuers)`)
      }
      if (!issuers!.includes(n)) issuers!.push(n)
    })
  } else if (!env.jwtConfigured) ctx.problem(path, 'needs the top-level jwt section (the token verifier), or issuers naming jwtIssuers')
  let token: RouteJwtSettings['token']
  const tokenText = asString(o['token'])
  if (tokenText !== undefined) {
    const colon = tokenText.indexOf(':')
    const kind = tokenText.slice(0, colon)
    const name = tokenText.slice(colon + 1)
    if ((kind === 'header' || kind === 'cookie') && TOKEN.test(name)) token = { kind, name: kind === 'header' ? name.toLowerCase() : name }
    else ctx.problem(childPath(path, 'token'), 'must be header:NAME or cookie:NAME')
  }
  const claims: Record<string, string | number | boolean> = plainRecord()
  for (const [claim, value] of Object.entries(asObject(o['claims']) ?? {})) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') claims[claim] = value
  }
  const forwardClaims: Record<string, string> = plainRecord()
  const forwardPath = childPath(path, 'forwardClaims')
  for (const [claim, header] of Object.entries(asObject(o['forwardClaims']) ?? {})) {
    if (typeof header !== 'string') continue
    if (!TOKEN.test(header)) ctx.problem(childPath(forwardPath, claim), `"${header}" is not a valid header name`)
    forwardClaims[claim] = header.toLowerCase()
  }
  const out: Mutable<RouteJwtSettings> = { required: asBoolean(o['required'], true), claims: ordinaryRecord(claims), forwardClaims: ordinaryRecord(forwardClaims) }
  if (issuers !== undefined) out.issuers = issuers
  if (token !== undefined) out.token = token
  return out
}

function normalizeRewrite(raw: RawObject | undefined, path: string, ctx: NormalizeContext): HeaderRewriteSettings {
  const set: Record<string, string> = plainRecord()
  for (const [name, value] of Object.entries(asObject(raw?.['set']) ?? {})) {
    if (typeof value !== 'string') continue
    if (!TOKEN.test(name)) ctx.problem(childPath(childPath(path, 'set'), name), `"${name}" is not a valid header name`)
    // RFC 9110 §5.5: field values cannot carry CR, LF or NUL; they would split the header.
    if (/[\r\n\0]/.test(value)) ctx.problem(childPath(childPath(path, 'set'), name), 'value must not contain CR, LF or NUL')
    set[name.toLowerCase()] = value
  }
  const remove: string[] = []
  asArray(raw?.['remove']).forEach((name, i) => {
    if (typeof name !== 'string') return
    if (!TOKEN.test(name)) ctx.problem(indexPath(childPath(path, 'remove'), i), `"${name}" is not a valid header name`)
    const lower = name.toLowerCase()
    if (!remove.includes(lower)) remove.push(lower)
  })
  return { set: ordinaryRecord(set), remove }
}

function keySource(raw: unknown, path: string, ctx: NormalizeContext): KeySource | undefined {
  if (typeof raw !== 'string') return undefined
  const parsed = parseKeySource(raw)
  if (!parsed.ok) {
    ctx.problem(path, parsed.message)
    return undefined
  }
  if (parsed.value.kind === 'jwt') ctx.jwtKeyUses.push(path)
  return parsed.value
}

/** `mirror.compare`: true, or `{ ignore: [JSON Pointers], maxBodySize }`. */
function normalizeMirrorCompare(raw: unknown, path: string, ctx: NormalizeContext): { compare?: MirrorCompareSettings } {
  if (raw === undefined || raw === false) return {}
  const o = raw === true ? {} : asObject(raw)
  if (o === undefined) return {}
  const ignore: string[] = []
  const ignorePaths: string[][] = []
  asArray(o['ignore']).forEach((p, i) => {
    if (typeof p !== 'string') return
    // RFC 6901: "" is the whole document, otherwise each segment follows a "/"; ~1 is "/", ~0 is "~".
    if (p !== '' && !p.startsWith('/')) {
      ctx.problem(`${path}.ignore[${i}]`, `"${p}" is not a JSON Pointer (RFC 6901): it must start with "/"`)
      return
    }
    if (/~[^01]|~$/.test(p)) {
      ctx.problem(`${path}.ignore[${i}]`, `"${p}": "~" must be followed by 0 or 1 (RFC 6901 escapes)`)
      return
    }
    ignore.push(p)
    ignorePaths.push(p === '' ? [] : p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')))
  })
  return { compare: { ignore, ignorePaths, maxBodySize: asSize(o['maxBodySize'], DEFAULT_COMPARE_BODY) } }
}

const DEFAULT_COMPARE_BODY = 256 * 1024
