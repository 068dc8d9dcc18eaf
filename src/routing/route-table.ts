/**
 * Compiles the configured routes into a table of precompiled predicates. Everything that can
 * be decided from configuration (normalised prefixes, regexes, method sets, host suffixes) is
 * computed here once; `match` is a linear scan in configuration order, first match wins.
 */
import { compileIpMatcher } from '../net/ip-matcher.js'
import type { GeoResolver } from '../net/geo.js'
import type { IncomingHttpHeaders } from 'node:http'
import type { HeaderMatch, RouteSettings } from '../config/model.js'
import { BadRouteSettingError } from './errors.js'
import { normalizeConfiguredPath } from './normalize-path.js'
import { createSplitSelector, noSplit } from './split.js'
import type { CompiledRoute, MatchInput, RouteResolution, RouteTable, SplitSelector } from './types.js'

/** One condition of a route: a fast predicate and the reason it fails, for explain. */
interface Condition {
  test(input: MatchInput): boolean
  why(input: MatchInput): string
}

function pathPrefixCondition(prefix: string): Condition {
  // "/" covers every origin-form path, but not the asterisk-form `*` (OPTIONS *).
  if (prefix === '/') return { test: (input) => input.path.charCodeAt(0) === 0x2f, why: (input) => `path ${input.path} does not start with /` }
  // A prefix written with a trailing "/" already ends on a boundary: plain startsWith.
  const test = prefix.endsWith('/')
    ? (input: MatchInput) => input.path.startsWith(prefix)
    : (input: MatchInput) => {
        const p = input.path
        return p.startsWith(prefix) && (p.length === prefix.length || p.charCodeAt(prefix.length) === 0x2f)
      }
  return { test, why: (input) => `path ${input.path} does not start with ${prefix}` }
}

function pathExactCondition(exact: string): Condition {
  return { test: (input) => input.path === exact, why: (input) => `path ${input.path} is not ${exact}` }
}

function pathRegexCondition(routeName: string, source: string): Condition {
  let re: RegExp
  try {
    re = new RegExp(source)
  } catch (err) {
    throw new BadRouteSettingError(routeName, `pathRegex does not compile: ${(err as Error).message}`)
  }
  return { test: (input) => re.test(input.path), why: (input) => `path ${input.path} does not match ${source}` }
}

function hostCondition(host: string): Condition {
  if (host.startsWith('*.')) {
    // Like NGINX and Envoy, `*.example.com` matches any depth of subdomain, not the bare domain.
    const suffix = host.slice(1)
    return {
      test: (input) => input.host.length > suffix.length && input.host.endsWith(suffix),
      why: (input) => `host ${input.host || '(none)'} does not match ${host}`,
    }
  }
  return { test: (input) => input.host === host, why: (input) => `host ${input.host || '(none)'} is not ${host}` }
}

function methodsCondition(methods: readonly string[], corsPreflight = false): Condition {
  // RFC 9110 §9.3.2: HEAD is GET without the body, so it matches wherever GET does (else a
  // HEAD would skip a guarded GET route and fall through to a public one).
  const set = new Set(methods.includes('GET') ? [...methods, 'HEAD'] : methods)
  const list = [...set].join(', ')
  if (corsPreflight) {
    // A route with `cors` answers the CORS preflight (an OPTIONS with Access-Control-Request-
    // Method) for the methods it serves, so the preflight must reach it whatever `methods` says.
    return {
      test: (input) => set.has(input.method) || (input.method === 'OPTIONS' && input.headers['access-control-request-method'] !== undefined),
      why: (input) => `method ${input.method} not in ${list}`,
    }
  }
  return { test: (input) => set.has(input.method), why: (input) => `method ${input.method} not in ${list}` }
}

function clientIpCondition(entries: readonly string[]): Condition {
  const set = compileIpMatcher(entries)
  const list = entries.join(', ')
  return {
    test: (input) => input.clientIp !== undefined && set.has(input.clientIp),
    why: (input) => `client ${input.clientIp ?? '(unknown)'} not in ${list}`,
  }
}

function countryCondition(codes: readonly string[], geo: GeoResolver | undefined): Condition {
  const set = new Set(codes)
  const list = codes.join(', ')
  if (geo === undefined) return { test: () => false, why: () => 'no geoip configured' }
  return {
    test: (input) => {
      if (input.clientIp === undefined) return false
      const c = geo.country(input.clientIp, input.headers, input.peerTrusted === true)
      return c !== undefined && set.has(c)
    },
    why: (input) => `country ${(input.clientIp !== undefined && geo.country(input.clientIp, input.headers, input.peerTrusted === true)) || '(unknown)'} not in ${list}`,
  }
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | string[] | undefined {
  return headers[name]
}

function headerCondition(routeName: string, name: string, m: HeaderMatch): Condition {
  switch (m.kind) {
    case 'present':
      return m.present
        ? { test: (input) => headerValue(input.headers, name) !== undefined, why: () => `header ${name} is missing` }
        : { test: (input) => headerValue(input.headers, name) === undefined, why: () => `header ${name} is present` }
    case 'exact': {
      const want = m.value
      return {
        test: (input) => {
          const v = headerValue(input.headers, name)
          return typeof v === 'string' ? v === want : v !== undefined && v.includes(want)
        },
        why: (input) => {
          const v = headerValue(input.headers, name)
          return v === undefined ? `header ${name} is missing` : `header ${name} is ${JSON.stringify(v)}, not ${JSON.stringify(want)}`
        },
      }
    }
    case 'regex': {
      let re: RegExp
      try {
        re = new RegExp(m.source)
      } catch (err) {
        throw new BadRouteSettingError(routeName, `headers.${name}.regex does not compile: ${(err as Error).message}`)
      }
      return {
        test: (input) => {
          const v = headerValue(input.headers, name)
          return typeof v === 'string' ? re.test(v) : v !== undefined && v.some((x) => re.test(x))
        },
        why: (input) => {
          const v = headerValue(input.headers, name)
          return v === undefined ? `header ${name} is missing` : `header ${name} ${JSON.stringify(v)} does not match ${m.source}`
        },
      }
    }
  }
}

/**
 * Builds the upstream path for a matched path. `rewritePrefix` replaces the matched `path`
 * prefix ("" strips it), replaces the whole path of a `pathExact` route, and is prepended on
 * routes that match without a prefix. The result always starts with "/" and never gains "//".
 */
function compileRewrite(route: RouteSettings): (path: string) => string {
  const raw = route.rewritePrefix
  if (raw === undefined) return (path) => path
  const replacement = raw === '' || raw === '/' ? '' : normalizeConfiguredPath(raw.startsWith('/') ? raw : '/' + raw)
  const join = (rest: string): string => {
    // rest is '' or starts with '/'.
    if (replacement === '') return rest === '' ? '/' : rest
    if (rest === '') return replacement
    return replacement.endsWith('/') ? replacement + rest.slice(1) : replacement + rest
  }
  const { path: prefix, pathExact } = route.match
  if (pathExact !== undefined) {
    const whole = join('')
    return () => whole
  }
  if (prefix !== undefined) {
    // Cut at the boundary, not after a written trailing "/", so `/api/` → `/v2` maps
    // /api/x to /v2/x, not /v2x.
    const p = normalizeConfiguredPath(prefix)
    const cut = p.endsWith('/') ? p.length - 1 : p.length
    return (path) => join(path.slice(cut))
  }
  return (path) => join(path)
}

type Predicate = (input: MatchInput) => boolean

/** One function for all conditions, so matching a route is one call, not a loop over closures. */
function allOf(tests: readonly Predicate[]): Predicate {
  switch (tests.length) {
    case 0:
      return () => true
    case 1:
      return tests[0]
    case 2: {
      const [a, b] = tests
      return (input) => a(input) && b(input)
    }
    case 3: {
      const [a, b, c] = tests
      return (input) => a(input) && b(input) && c(input)
    }
    default:
      return (input) => {
        for (let i = 0; i < tests.length; i++) if (!tests[i](input)) return false
        return true
      }
  }
}

/** The first path segment a request must have for this route to match, or undefined when any will do. */
function firstSegmentOf(path: string): string {
  const end = path.indexOf('/', 1)
  return end === -1 ? path.slice(1) : path.slice(1, end)
}

class Route implements CompiledRoute {
  readonly name: string
  readonly index: number
  readonly settings: RouteSettings
  split: SplitSelector
  readonly rewrite: (path: string) => string
  readonly matches: Predicate
  /** Every path this route can match starts with this segment; undefined: no such constraint. */
  readonly firstSegment: string | undefined
  readonly #conditions: readonly Condition[]
  /** Everything but the method; set for routes whose method mismatch answers 405 (see guardsMethods). */
  readonly matchesExceptMethod: Predicate | undefined
  /** The methods this route takes (for Allow), when it restricts them. */
  readonly allow: string | undefined

  constructor(settings: RouteSettings, index: number, geo?: GeoResolver) {
    this.name = settings.name
    this.index = index
    this.settings = settings
    const m = settings.match
    const conditions: Condition[] = []
    let firstSegment: string | undefined
    // Cheapest and most selective first: most requests are rejected by path or host.
    if (m.path !== undefined) {
      const prefix = normalizeConfiguredPath(m.path)
      conditions.push(pathPrefixCondition(prefix))
      if (prefix !== '/') firstSegment = firstSegmentOf(prefix)
    }
    if (m.pathExact !== undefined) {
      const exact = normalizeConfiguredPath(m.pathExact)
      conditions.push(pathExactCondition(exact))
      firstSegment = firstSegmentOf(exact)
    }
    this.firstSegment = firstSegment
    if (m.host !== undefined) conditions.push(hostCondition(m.host.toLowerCase()))
    let methods: Condition | undefined
    if (m.methods !== undefined && m.methods.length > 0) conditions.push((methods = methodsCondition(m.methods, settings.cors !== undefined)))
    if (m.pathRegex !== undefined) conditions.push(pathRegexCondition(settings.name, m.pathRegex))
    if (m.headers !== undefined) {
      for (const [name, hm] of Object.entries(m.headers)) conditions.push(headerCondition(settings.name, name.toLowerCase(), hm))
    }
    if (m.clientIp !== undefined) conditions.push(clientIpCondition(m.clientIp))
    // Last: a database lookup is the most expensive condition.
    if (m.country !== undefined) conditions.push(countryCondition(m.country, geo))
    this.#conditions = conditions
    this.matches = allOf(conditions.map((c) => c.test))
    // A guarded route (it checks who is asking) that restricts methods answers 405 for its
    // paths' other methods instead of letting them fall through to a later, unguarded route.
    const guarded = settings.jwt !== undefined
    this.allow = methods === undefined ? undefined : [...new Set(m.methods!.includes('GET') ? [...m.methods!, 'HEAD'] : m.methods!)].join(', ')
    this.matchesExceptMethod = guarded && methods !== undefined ? allOf(conditions.filter((c) => c !== methods).map((c) => c.test)) : undefined
    this.rewrite = compileRewrite(settings)
    // A route the gateway answers itself (respond, redirect) has no pool to choose.
    this.split = settings.split.length === 0 && (settings.respond !== undefined || settings.redirect !== undefined) ? noSplit(settings) : createSplitSelector(settings)
  }

  mismatch(input: MatchInput): string | undefined {
    for (const c of this.#conditions) if (!c.test(input)) return c.why(input)
    return undefined
  }
}

/**
 * Routes are indexed by the first path segment their `path` or `pathExact` requires: a request
 * only scans the routes of its own first segment plus those without such a constraint, still
 * in configuration order, so first-match-wins is unchanged.
 */
class Table implements RouteTable {
  readonly routes: readonly CompiledRoute[]
  readonly #byName: Map<string, CompiledRoute>
  readonly #bySegment: Map<string, readonly Route[]>
  readonly #unconstrained: readonly Route[]

  readonly geo: GeoResolver | undefined

  constructor(routes: readonly Route[], geo?: GeoResolver) {
    this.routes = routes
    this.geo = geo
    this.#byName = new Map(routes.map((r) => [r.name, r]))
    this.#unconstrained = routes.filter((r) => r.firstSegment === undefined)
    this.#bySegment = new Map()
    for (const seg of new Set(routes.map((r) => r.firstSegment))) {
      if (seg !== undefined) this.#bySegment.set(seg, routes.filter((r) => r.firstSegment === undefined || r.firstSegment === seg))
    }
  }

  match(input: MatchInput): CompiledRoute | undefined {
    const r = this.resolve(input)
    return r === undefined || 'refused' in r ? undefined : r.route
  }

  resolve(input: MatchInput): RouteResolution | undefined {
    const rs = this.#bySegment.size === 0 ? this.#unconstrained : (this.#bySegment.get(firstSegmentOf(input.path)) ?? this.#unconstrained)
    let refused: Route | undefined
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!
      if (r.matches(input)) {
        // After a guarded route refused the method, only a route that names its methods may
        // take the request: a catch-all must not serve what the guarded route protects.
        if (refused !== undefined && r.allow === undefined) break
        return { route: r }
      }
      if (refused === undefined && r.matchesExceptMethod !== undefined && r.matchesExceptMethod(input)) refused = r
    }
    return refused === undefined ? undefined : { refused, allow: refused.allow! }
  }

  get(name: string): CompiledRoute | undefined {
    return this.#byName.get(name)
  }
}

/**
 * Compile routes in configuration order. Throws BadRouteSettingError for a setting that cannot
 * be compiled (a regex that does not compile, a prefix that is not a valid path); the config
 * loader reports those earlier with their paths, this is the last line of defence.
 */
export function compileRouteTable(routes: readonly RouteSettings[], options: { readonly geo?: GeoResolver } = {}): RouteTable {
  const compiled = routes.map((r, i) => {
    try {
      return new Route(r, i, options.geo)
    } catch (err) {
      if ((err as { code?: string }).code === 'SWITCHYARD_BAD_PATH') {
        throw new BadRouteSettingError(r.name, `invalid path in match or rewritePrefix: ${(err as Error).message}`)
      }
      throw err
    }
  })
  return new Table(compiled, options.geo)
}
