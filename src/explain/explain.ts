/**
 * Explain: how the gateway would handle a described request, computed from the same compiled
 * route table, split selectors, pools and key derivations the data plane uses, without sending
 * anything upstream and without moving any state that real traffic depends on (see
 * candidates.ts for the balancer caveat).
 *
 * Used by `POST /api/explain` on the admin listener (live health and breaker state) and by
 * `switchyard explain` (offline from a file: every backend healthy, every breaker closed).
 */
import { canonicalIp } from '../net/client-ip.js'
import { accessAllows, compileCountryAccess } from '../policies/access.js'
import { routingHost } from '../net/host.js'
import type { RouteSettings } from '../config/model.js'
import { compileRouteJwt } from '../auth/claims.js'
import { bypassReason, entryKey, normaliseHost, urlKey } from '../cache/key.js'
import { compileRateLimitKey } from '../ratelimit/key.js'
import type { RuntimeState } from '../runtime-state.js'
import { normalizePath } from '../routing/normalize-path.js'
import { describeKeySource, stickyHash } from '../routing/split.js'
import type { CompiledRoute, MatchInput, SplitDecision } from '../routing/types.js'
import type { Backend } from '../upstream/types.js'
import { previewChain } from '../upstream/pool-chain.js'
import { ORDER_NOTES, type KeyInput, type OrderKind } from './candidates.js'

/** A request description (the body of `POST /api/explain`). */
export interface ExplainInput {
  readonly method: string
  /** Host header value (a port is ignored for matching, as in the data plane). */
  readonly host: string
  /** Request target: path with optional `?query`, as a client would send it. */
  readonly path: string
  readonly headers?: Readonly<Record<string, string | readonly string[]>>
  /** JWT claims taken as verified (explain does not verify tokens). */
  readonly claims?: Readonly<Record<string, unknown>>
  /** Client address after trustedProxies; default 127.0.0.1. */
  readonly clientIp?: string
  /** How the request arrives; default http. */
  readonly protocol?: 'http' | 'https'
}

export interface RouteCheck {
  readonly name: string
  readonly index: number
  readonly matched: boolean
  /** Why the route does not match (its first failing condition). */
  readonly reason?: string
}

export interface BackendView {
  readonly url: string
  readonly weight: number
  readonly healthy: boolean
  readonly circuit: 'closed' | 'half-open' | 'open'
  readonly activeRequests: number
  readonly available: boolean
}

export interface PoolStep {
  readonly pool: string
  /** `split` for the pool the split chose, `fallback` for each pool of its fallback chain. */
  readonly role: 'split' | 'fallback'
  readonly algorithm: string
  /** Available backends in try order (first = choice, then retries). */
  readonly candidates: readonly BackendView[]
  /** Backends out of rotation now, with why. */
  readonly unavailable: readonly (BackendView & { readonly reason: string })[]
  readonly order: OrderKind
  readonly orderNote: string
  readonly stickySession?: { readonly cookie: string; readonly pinned: string | null }
  readonly hashKey?: string | null
  readonly fallback: string | null
  /** The last resort (SPEC §5): these backends are tried although none is available. */
  readonly lastResort?: boolean
}

export interface ExplainAnswer {
  /** What the gateway would answer: `forward` (to `backend`), or the status it would send itself. */
  readonly outcome: { readonly action: 'forward' | 'reject' | 'answer'; readonly status: number | null; readonly message: string }
  readonly request: { readonly method: string; readonly host: string; readonly path: string; readonly query: string; readonly clientIp: string; readonly protocol: 'http' | 'https'; readonly country?: string | null }
  /** Routes checked in order up to the first match. */
  readonly routes: readonly RouteCheck[]
  readonly route: string | null
  readonly upstreamPath: string | null
  readonly split: SplitExplanation | null
  readonly jwt: { readonly required: boolean; readonly verdict: 'not-checked' | 'ok' | 'missing-token' | 'missing-claim'; readonly claim?: string; readonly forwardHeaders?: Record<string, string> } | null
  /** The split's pool, then its fallback chain, as far as the gateway would go. */
  readonly pools: readonly PoolStep[]
  /** Where the first attempt would go. */
  readonly backend: { readonly pool: string; readonly url: string; readonly fallbackUsed: boolean; readonly lastResort?: boolean } | null
  readonly rateLimit: { readonly key: string; readonly source: string; readonly max: number; readonly windowMs: number } | null
  readonly cache: { readonly key: string | null; readonly primaryKey: string; readonly bypass: string | null; readonly note: string } | null
}

export interface SplitExplanation {
  readonly targets: readonly { readonly pool: string; readonly weight: number; readonly share: number }[]
  readonly pool: string
  readonly reason: SplitDecision['reason']
  readonly override?: { readonly header: string; readonly value: string | null }
  readonly sticky?: {
    readonly source: string
    readonly key: string | null
    /** A `cookie:` key that was missing: the gateway would assign one and set this cookie. */
    readonly assigned?: boolean
    /** The cohort: the pool this key's bucket belongs to (highest rendezvous score). */
    readonly cohort: string | null
    readonly scores?: Readonly<Record<string, number>>
  }
  readonly note?: string
}

type Headers = Record<string, string | string[] | undefined>

const BEARER = /^bearer\s/i

function lowerHeaders(h: ExplainInput['headers'], host: string): Headers {
  const out: Headers = {}
  if (h !== undefined) for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = typeof v === 'string' ? v : [...v]
  out.host = host
  return out
}

function backendView(b: Backend): BackendView {
  return { url: b.origin, weight: b.weight, healthy: b.healthy, circuit: b.breaker.state, activeRequests: b.activeRequests, available: b.isAvailable() }
}

function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}

function reject(status: number, message: string): ExplainAnswer['outcome'] {
  return { action: 'reject', status, message }
}

/** Explain one described request against a running (or offline-built) configuration. */
export function explainRequest(state: RuntimeState, input: ExplainInput): ExplainAnswer {
  const method = input.method.toUpperCase()
  const protocol = input.protocol ?? 'http'
  const clientIp = input.clientIp ?? '127.0.0.1'
  const headers = lowerHeaders(input.headers, input.host)
  const empty = { route: null, upstreamPath: null, split: null, jwt: null, pools: [], backend: null, rateLimit: null, cache: null }

  let path: string
  let query: string
  try {
    ;({ path, query } = normalizePath(input.path, method))
  } catch (err) {
    return {
      outcome: reject(400, (err as Error).message),
      request: { method, host: input.host, path: input.path, query: '', clientIp, protocol },
      routes: [],
      ...empty,
    }
  }
  // The client's country, when geoip is configured (a CDN header counts as from a trusted proxy here).
  const country = state.routes.geo === undefined ? undefined : (state.routes.geo.country(canonicalIp(clientIp), headers as never, true) ?? null)
  const request = { method, host: input.host, path, query, clientIp, protocol, ...(country !== undefined ? { country } : {}) }

  const matchInput: MatchInput = { method, host: routingHost(input.host), path, headers, clientIp: canonicalIp(clientIp), peerTrusted: true }
  const routes: RouteCheck[] = []
  let route: CompiledRoute | undefined
  for (const r of state.routes.routes) {
    const why = r.mismatch(matchInput)
    if (why === undefined) {
      routes.push({ name: r.name, index: r.index, matched: true })
      route = r
      break
    }
    routes.push({ name: r.name, index: r.index, matched: false, reason: why })
  }
  // The data plane's own decision, so a guarded route's 405 is explained as such.
  const resolved = state.routes.resolve(matchInput)
  if (resolved !== undefined && 'refused' in resolved) {
    return { outcome: reject(405, `${method} is not among the methods of guarded route "${resolved.refused.name}" (Allow: ${resolved.allow}); it does not fall through to later routes`), request, routes, ...empty }
  }
  if (route === undefined) return { outcome: reject(404, `no route matches ${method} ${path}`), request, routes, ...empty }

  const s = route.settings
  const upstreamPath = route.rewrite(path)
  const claims = input.claims
  const keyInput: KeyInput = { clientIp, path, query, route: route.name, headers, claims }

  let outcome: ExplainAnswer['outcome'] | undefined
  const jwt = explainJwt(s, headers, claims)
  if (jwt?.verdict === 'missing-token') outcome = reject(401, 'the route requires a token: pass its verified claims as "claims"')
  else if (jwt?.verdict === 'missing-claim') outcome = reject(403, `token lacks required claim "${jwt.claim}"`)

  if (outcome === undefined && s.access !== undefined && !accessAllows(s.access, canonicalIp(clientIp))) outcome = reject(403, `client ${clientIp} is refused by the route's access rules`)
  if (outcome === undefined && s.access?.countries !== undefined && !compileCountryAccess(s.access.countries)(country ?? undefined)) {
    outcome = reject(403, `country ${country ?? '(unknown)'} is refused by the route's access rules`)
  }
  // A route the gateway answers itself has no pool: say what it would answer.
  if (s.respond !== undefined || s.redirect !== undefined) {
    outcome ??= s.respond !== undefined
      ? { action: 'answer', status: s.respond.status, message: `the gateway answers ${s.respond.status} itself (respond)` }
      : { action: 'answer', status: s.redirect!.status, message: `the gateway redirects (${s.redirect!.status}) to ${s.redirect!.to}${s.redirect!.keepPath ? ' + path' : ''}${s.redirect!.keepQuery ? ' + query' : ''}` }
    return { ...empty, outcome, request, routes, route: route.name, jwt, rateLimit: explainRateLimit(route, clientIp, headers, claims) }
  }

  const split = explainSplit(route, headers, clientIp, claims, path, query)
  const { pools, backend } = explainPools(state, split.pool, keyInput)
  if (outcome === undefined) {
    outcome = backend === null ? reject(503, `no backend available for pool "${split.pool}" or its fallbacks`) : { action: 'forward', status: null, message: `forward to ${backend.url}${upstreamPath}${query ? '?' + query : ''}` }
  }

  return {
    outcome,
    request,
    routes,
    route: route.name,
    upstreamPath,
    split,
    jwt,
    pools,
    backend,
    rateLimit: explainRateLimit(route, clientIp, headers, claims),
    cache: explainCache(s, method, headers, protocol, input.host, path, query, route.name, split.pool),
  }
}

function explainJwt(s: RouteSettings, headers: Headers, claims: ExplainInput['claims']): ExplainAnswer['jwt'] {
  if (s.jwt === undefined) return null
  const policy = compileRouteJwt(s.jwt)
  if (claims === undefined) {
    const hasBearer = BEARER.test(firstValue(headers.authorization) ?? '')
    // A token in the headers is not verified here: explain has no business checking secrets.
    return { required: policy.required, verdict: policy.required && !hasBearer ? 'missing-token' : 'not-checked' }
  }
  const missing = policy.missingClaim(claims)
  if (missing !== undefined) return { required: policy.required, verdict: 'missing-claim', claim: missing }
  const forwardHeaders = policy.forwardHeaders(claims)
  return { required: policy.required, verdict: 'ok', ...(forwardHeaders ? { forwardHeaders } : {}) }
}

function explainSplit(route: CompiledRoute, headers: Headers, clientIp: string, claims: ExplainInput['claims'], path: string, query: string): SplitExplanation {
  const split = route.split
  const total = split.targets.reduce((n, t) => n + t.weight, 0)
  const targets = split.targets.map((t) => ({ pool: t.pool, weight: t.weight, share: total > 0 ? Math.round((t.weight / total) * 10000) / 10000 : 0 }))
  // Selectors are immutable and keep no history: choose() has no side effects (a random draw
  // or a fresh cookie id at most).
  const d = split.choose({ headers, clientIp, claims, path, query })
  const out: { -readonly [K in keyof SplitExplanation]: SplitExplanation[K] } = { targets, pool: d.pool, reason: d.reason }
  if (split.overrideHeader !== undefined) out.override = { header: split.overrideHeader, value: firstValue(headers[split.overrideHeader]) ?? null }
  if (split.sticky !== undefined) {
    const source = describeKeySource(split.sticky)
    if (d.reason === 'sticky' && d.stickyKey !== undefined) {
      const scores: Record<string, number> = {}
      for (const t of split.targets) if (t.weight > 0) scores[t.pool] = -t.weight / Math.log(stickyHash(route.name, d.stickyKey, t.pool))
      out.sticky = { source, key: d.stickyKey, cohort: d.pool, scores, ...(d.setCookie !== undefined ? { assigned: true } : {}) }
      if (d.setCookie !== undefined) out.note = 'the cookie is missing: the gateway would assign a new cohort id (this one is an example) and set it on the response'
    } else out.sticky = { source, key: null, cohort: null }
  }
  if (d.reason === 'weighted') out.note = 'weighted random draw: this pool is one sample; see the shares'
  return out
}

export function explainPools(state: Pick<RuntimeState, 'pools'>, first: string, keyInput: KeyInput): { pools: PoolStep[]; backend: ExplainAnswer['backend'] } {
  const pools: PoolStep[] = []
  let backend: ExplainAnswer['backend'] = null
  // The same chain walk as the data plane (upstream/pool-chain.ts), without moving balancers:
  // up to the first pool that would serve.
  for (const preview of previewChain(state.pools, first, keyInput)) {
    const pool = preview.pool
    const candidates = preview.backends.map(backendView)
    const inOrder = new Set(preview.backends)
    const unavailable = pool.backends
      .filter((b) => !inOrder.has(b))
      .map((b) => ({ ...backendView(b), reason: !b.healthy ? 'health check failing' : b.breaker.state === 'open' ? 'circuit open' : b.breaker.state === 'half-open' ? 'circuit half-open (trial requests only)' : 'not selectable' }))
    const step: { -readonly [K in keyof PoolStep]: PoolStep[K] } = {
      pool: pool.name,
      role: preview.role,
      algorithm: pool.algorithm,
      candidates,
      unavailable,
      order: preview.order,
      orderNote: ORDER_NOTES[preview.order],
      fallback: pool.fallback ?? null,
    }
    if (pool.settings.stickySession !== undefined) step.stickySession = { cookie: pool.settings.stickySession.cookie, pinned: preview.pinned?.origin ?? null }
    if (pool.algorithm === 'consistent-hash') step.hashKey = preview.hashKey ?? null
    if (preview.lastResort) {
      step.lastResort = true
      step.orderNote = 'last resort: nothing in the pool or its fallback chain is available, so these are tried anyway, health and circuit ignored'
      step.unavailable = []
    }
    pools.push(step)
    if (candidates.length > 0) backend = { pool: pool.name, url: candidates[0]!.url, fallbackUsed: !preview.lastResort && pools.length > 1, ...(preview.lastResort ? { lastResort: true } : {}) }
  }
  return { pools, backend }
}

function explainRateLimit(route: CompiledRoute, clientIp: string, headers: Headers, claims: ExplainInput['claims']): ExplainAnswer['rateLimit'] {
  const rl = route.settings.rateLimit
  if (rl === undefined) return null
  const key = compileRateLimitKey(route.name, rl.key).derive({ clientIp, headers, claims })
  return { key, source: describeKeySource(rl.key), max: rl.max, windowMs: rl.window }
}

function explainCache(
  s: RouteSettings,
  method: string,
  headers: Headers,
  protocol: 'http' | 'https',
  host: string,
  path: string,
  query: string,
  route: string,
  pool: string,
): ExplainAnswer['cache'] {
  if (s.cache === undefined) return null
  const primaryKey = urlKey({ protocol, host, path, query })
  const bypass = bypassReason(method, headers) ?? null
  // As sent upstream: from an untrusted client the gateway sets its own forwarding headers.
  const upstream: Headers = { ...headers, 'x-forwarded-host': host, 'x-forwarded-proto': protocol }
  delete upstream['x-forwarded-prefix']
  delete upstream.forwarded
  const key = bypass === null ? entryKey(primaryKey, route, pool, [], (n) => upstream[n]) : null
  return {
    key,
    primaryKey,
    bypass,
    note: bypass === null ? `the stored response's Vary headers add their request values to this key (host ${normaliseHost(host, protocol)})` : 'this request neither uses nor fills the cache',
  }
}
