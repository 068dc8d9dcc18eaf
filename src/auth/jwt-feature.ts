/**
 * Bearer-token authentication as a feature (phase `auth`), for routes with `jwt: true` or
 * `jwt: { required, claims, forwardClaims }`, verified with the top-level `jwt` verifier
 * (src/auth/jwt-verifier.ts, on fast-jwt).
 *
 * - `required: true` (and `jwt: true`): no token → 401. `required: false`: anonymous requests
 *   pass, but a token that is present must verify.
 * - Failures are 401 with `WWW-Authenticate: Bearer error="invalid_token"`; a verified token that
 *   lacks a route claim is 403 with `error="insufficient_scope"` (RFC 6750 §3.1); both through
 *   ctx.responseHeaders. Every refusal counts in switchyard_jwt_rejected_total{route,code}.
 * - Verified claims go to ctx.claims (rate-limit keys, sticky splits, explain); `forwardClaims`
 *   values go to ctx.upstreamHeaders (the proxy drops every client-sent copy of those names).
 *
 * Per configuration, `prepare` compiles the verifier, or keeps the serving one when the `jwt`
 * section is unchanged (so its JWKS key set and token cache survive unrelated reloads); a
 * verifier that cannot be compiled is a ConfigError at `jwt.<setting>`, the same problem
 * `switchyard check` reports. Each route's claim policy is compiled once, at compileRoute.
 *
 * Hot path: the stage returns without a promise whenever verification is synchronous (a cached
 * token, a secret or publicKey, a JWKS key already loaded); only a JWKS key that must be fetched
 * makes it return one.
 */
import { LRUCache } from 'lru-cache'
import { Counter, type Registry } from 'prom-client'
import { ConfigError, type ConfigProblem } from '../config/errors.js'
import type { JwtSettings, RouteJwtSettings } from '../config/model.js'
import { readCookie } from '../net/cookies.js'
import { metricsOnce } from '../metrics.js'
import type { Feature, PreparedFeature, RouteFeature, StageRun } from '../pipeline/feature.js'
import type { ProxyRequest } from '../proxy/request.js'
import type { RequestContext } from '../request-context.js'
import type { CompiledRoute } from '../routing/types.js'
import { extractBearer } from './bearer.js'
import { compileRouteJwt } from './claims.js'
import { ERR_JWT_FORBIDDEN, ERR_JWT_INVALID, ERR_JWT_KEYS_UNAVAILABLE, ERR_JWT_MISSING, ERR_JWT_TOO_LARGE } from './errors.js'
import { compileJwtVerifier, type Claims, type JwtVerifier, type JwtVerifierOptions } from './jwt-verifier.js'

export interface JwtFeatureLog {
  warn(obj: object, msg: string): void
  debug(obj: object, msg: string): void
}

export interface JwtFeatureDeps {
  readonly log: JwtFeatureLog
  /** The gateway's registry: switchyard_jwt_rejected_total is registered there once. */
  readonly registry: Registry
  /** Tuning for embedders and tests (token size cap, token cache, JWKS fetch limits); settings come from config. */
  readonly verifier?: JwtVerifierOptions
}

const INVALID_TOKEN = 'Bearer error="invalid_token"'
const INSUFFICIENT_SCOPE = 'Bearer error="insufficient_scope"'

/** Whether two `jwt` sections compile to the same verifier. */
export function sameJwtSettings(a: JwtSettings, b: JwtSettings): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b)
}

/**
 * A verifier compile error as a configuration problem: messages read "jwt: publicKey: …", so the
 * setting named first becomes the path (`jwt.publicKey`), as src/check.ts reports it.
 */
export function jwtConfigProblem(err: unknown): ConfigProblem {
  const text = (err as Error).message.replace(/^jwt: /, '')
  const m = /^(\w+): (.*)$/s.exec(text)
  return m ? { path: `jwt.${m[1]}`, message: m[2]! } : { path: 'jwt', message: text }
}

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as Promise<T> | undefined)?.then === 'function'
}

export function createJwtFeature(deps: JwtFeatureDeps): Feature {
  const { log, registry } = deps
  const options = deps.verifier ?? {}
  const rejected = metricsOnce(registry, 'jwt-rejected', () =>
    new Counter({
      name: 'switchyard_jwt_rejected_total',
      help: 'Requests refused by JWT authentication, by route and error code',
      labelNames: ['route', 'code'] as const,
      registers: [registry],
    }),
  )
  /** The verifiers of the serving configuration, by issuer name (`default` = the top-level jwt). */
  let live = new Map<string, JwtVerifier>()
  /** Every verifier not yet closed: the live ones and any prepared but not committed or discarded. */
  const open = new Set<JwtVerifier>()

  function compile(settings: JwtSettings, base: string): JwtVerifier {
    let verifier: JwtVerifier
    try {
      verifier = compileJwtVerifier(settings, {
        ...options,
        jwks: { ...options.jwks, onFetchError: (err) => log.warn({ err: err.message, jwksUrl: settings.jwksUrl }, 'jwks fetch failed; keeping the last good keys') },
      })
    } catch (err) {
      const p = jwtConfigProblem(err)
      throw new ConfigError([base === 'jwt' ? p : { path: p.path.replace(/^jwt/, base), message: p.message }])
    }
    open.add(verifier)
    return verifier
  }

  function release(verifier: JwtVerifier): void {
    // Requests still running on the previous snapshot keep verifying with its keys; closing only
    // stops key-set fetches and forgets its token cache.
    verifier.close()
    open.delete(verifier)
  }

  function stageFor(route: CompiledRoute, verifiers: readonly JwtVerifier[]): StageRun {
    const settings = route.settings.jwt!
    const policy = compileRouteJwt(settings)
    const routeName = route.name
    const required = policy.required

    const refuse = (ctx: RequestContext, err: unknown): never => {
      const e = err as Error & { code?: string; statusCode?: number; cause?: unknown }
      rejected.inc({ route: routeName, code: e.code ?? 'unknown' })
      log.debug({ reqId: ctx.id, code: e.code, reason: (e.cause as Error | undefined)?.message }, 'jwt refused')
      const status = e.statusCode
      if (status === 401 || status === 403) (ctx.responseHeaders ??= {})['www-authenticate'] = status === 401 ? INVALID_TOKEN : INSUFFICIENT_SCOPE
      throw e
    }
    const accept = (ctx: RequestContext, claims: Claims): void => {
      const missing = policy.missingClaim(claims)
      if (missing !== undefined) throw new ERR_JWT_FORBIDDEN(missing)
      ctx.claims = claims
      const forwarded = policy.forwardHeaders(claims)
      if (forwarded !== undefined) ctx.upstreamHeaders = Object.assign(ctx.upstreamHeaders ?? {}, forwarded)
    }

    if (verifiers.length === 0) {
      // A route asks for tokens but there is no verifier: refuse rather than guess.
      return (_request, ctx) => refuse(ctx, new ERR_JWT_KEYS_UNAVAILABLE())
    }
    const maxTokenLength = Math.max(...verifiers.map((v) => v.maxTokenLength))
    const read = tokenReader(settings.token, maxTokenLength)
    const check = verifiers.length === 1 ? verifiers[0]!.check.bind(verifiers[0]!) : multiIssuerCheck(verifiers)
    return (request: ProxyRequest, ctx: RequestContext): void | Promise<void> => {
      try {
        const token = read(request)
        if (token === undefined) {
          if (required) throw new ERR_JWT_MISSING()
          return
        }
        const claims = check(token)
        if (isPromise(claims)) {
          return claims.then((c) => accept(ctx, c)).then(undefined, (err: unknown) => refuse(ctx, err))
        }
        accept(ctx, claims)
      } catch (err) {
        refuse(ctx, err)
      }
    }
  }

  return {
    name: 'jwt-auth',
    prepare(next) {
      const wanted = new Map<string, { settings: JwtSettings; base: string }>()
      if (next.jwt !== undefined) wanted.set('default', { settings: next.jwt, base: 'jwt' })
      for (const [name, settings] of Object.entries(next.jwtIssuers ?? {})) wanted.set(name, { settings, base: `jwtIssuers.${name}` })
      const verifiers = new Map<string, JwtVerifier>()
      const fresh: JwtVerifier[] = []
      const problems: ConfigProblem[] = []
      for (const [name, { settings, base }] of wanted) {
        const current = live.get(name)
        if (current !== undefined && sameJwtSettings(current.settings, settings)) {
          verifiers.set(name, current)
          continue
        }
        try {
          const v = compile(settings, base)
          verifiers.set(name, v)
          fresh.push(v)
        } catch (err) {
          if (err instanceof ConfigError) problems.push(...err.problems)
          else throw err
        }
      }
      if (problems.length > 0) {
        for (const v of fresh) release(v)
        throw new ConfigError(problems)
      }
      let settled = false
      const prepared: PreparedFeature = {
        compileRoute(route): RouteFeature | undefined {
          const jwt = route.settings.jwt
          if (jwt === undefined) return undefined
          const names = jwt.issuers ?? ['default']
          const list = names.map((n) => verifiers.get(n)).filter((v): v is JwtVerifier => v !== undefined)
          return { stage: { phase: 'auth', run: stageFor(route, list) } }
        },
        commit() {
          if (settled) return
          settled = true
          const previous = live
          live = verifiers
          for (const v of fresh) {
            for (const w of v.warnings) log.warn({ jwt: w }, 'jwt settings')
            // Warm the key set so the first request does not pay for the fetch.
            void v.jwks?.refresh()
          }
          const kept = new Set(verifiers.values())
          for (const v of previous.values()) if (!kept.has(v)) release(v)
        },
        discard() {
          if (settled) return
          settled = true
          for (const v of fresh) release(v)
        },
      }
      return prepared
    },
    close() {
      for (const v of open) v.close()
      open.clear()
      live = new Map()
    },
  }
}

/**
 * Where a route's token comes from: `Authorization: Bearer` (RFC 6750 §2.1) by default; a header
 * (its whole value, or what follows "Bearer "), or a cookie, when the route says so.
 */
function tokenReader(source: RouteJwtSettings['token'], maxTokenLength: number): (request: ProxyRequest) => string | undefined {
  if (source === undefined) return (request) => extractBearer(request.headers.authorization, maxTokenLength)
  const name = source.name
  const bounded = (v: string | undefined): string | undefined => {
    if (v === undefined || v === '') return undefined
    if (v.length > maxTokenLength) throw new ERR_JWT_TOO_LARGE(maxTokenLength)
    return v
  }
  if (source.kind === 'cookie') return (request) => bounded(readCookie(request.headers.cookie, name))
  return (request) => {
    const h = request.headers[name]
    const v = Array.isArray(h) ? h[0] : h
    if (v === undefined) return undefined
    return v.length > 7 && (v.charCodeAt(6) === 32 && v.slice(0, 6).toLowerCase() === 'bearer') ? bounded(v.slice(7).trim()) : bounded(v.trim())
  }
}

/** Recent tokens whose verifier a multi-issuer route remembers. */
const MULTI_ISSUER_CHOICES = 10_000

/**
 * Verification against several issuers: the token's (unverified) `iss` picks the verifier whose
 * `issuer` it names; a token naming none of them is tried against each verifier without an
 * `issuer` setting, in the route's order, and the first that accepts it wins. Nothing is trusted
 * from the unverified payload but the choice of verifier, which then checks everything.
 */
function multiIssuerCheck(verifiers: readonly JwtVerifier[]): (token: string) => Claims | Promise<Claims> {
  const byIssuer = new Map<string, JwtVerifier>()
  for (const v of verifiers) if (v.settings.issuer !== undefined && !byIssuer.has(v.settings.issuer)) byIssuer.set(v.settings.issuer, v)
  const open = verifiers.filter((v) => v.settings.issuer === undefined)
  const tryEach = (token: string, i: number, first: unknown): Claims | Promise<Claims> => {
    if (i >= open.length) throw first ?? new ERR_JWT_INVALID('no issuer of this route accepts it')
    try {
      const r = open[i]!.check(token)
      if (isPromise(r)) return r.then(undefined, (err: unknown) => tryEach(token, i + 1, first ?? err))
      return r
    } catch (err) {
      return tryEach(token, i + 1, first ?? err)
    }
  }
  // The verifier each recent token named: a token presented again (the usual case; the
  // verifier's own cache then answers) is not base64-decoded and JSON-parsed per request.
  const chosen = new LRUCache<string, JwtVerifier>({ max: MULTI_ISSUER_CHOICES })
  return (token) => {
    let v = chosen.get(token)
    if (v === undefined) {
      const iss = unverifiedIssuer(token)
      v = iss === undefined ? undefined : byIssuer.get(iss)
      if (v !== undefined) chosen.set(token, v)
    }
    if (v !== undefined) return v.check(token)
    return tryEach(token, 0, undefined)
  }
}

/** The `iss` of a compact JWS payload, read without verifying (only to pick a verifier). */
function unverifiedIssuer(token: string): string | undefined {
  const a = token.indexOf('.')
  const b = token.indexOf('.', a + 1)
  if (a < 0 || b < 0) return undefined
  try {
    const payload = JSON.parse(Buffer.from(token.slice(a + 1, b), 'base64url').toString('utf8')) as { iss?: unknown }
    return typeof payload.iss === 'string' ? payload.iss : undefined
  } catch {
    return undefined
  }
}
