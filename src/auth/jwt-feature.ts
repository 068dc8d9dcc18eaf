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
import { Counter, type Registry } from 'prom-client'
import { ConfigError, type ConfigProblem } from '../config/errors.js'
import type { JwtSettings } from '../config/model.js'
import { metricsOnce } from '../metrics.js'
import type { Feature, PreparedFeature, RouteFeature, StageRun } from '../pipeline/feature.js'
import type { ProxyRequest } from '../proxy/request.js'
import type { RequestContext } from '../request-context.js'
import type { CompiledRoute } from '../routing/types.js'
import { extractBearer } from './bearer.js'
import { compileRouteJwt } from './claims.js'
import { ERR_JWT_FORBIDDEN, ERR_JWT_KEYS_UNAVAILABLE, ERR_JWT_MISSING } from './errors.js'
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
  /** The verifier of the serving configuration. */
  let live: JwtVerifier | undefined
  /** Every verifier not yet closed: the live one and any prepared but not committed or discarded. */
  const open = new Set<JwtVerifier>()

  function compile(settings: JwtSettings): JwtVerifier {
    let verifier: JwtVerifier
    try {
      verifier = compileJwtVerifier(settings, {
        ...options,
        jwks: { ...options.jwks, onFetchError: (err) => log.warn({ err: err.message, jwksUrl: settings.jwksUrl }, 'jwks fetch failed; keeping the last good keys') },
      })
    } catch (err) {
      throw new ConfigError([jwtConfigProblem(err)])
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

  function stageFor(route: CompiledRoute, verifier: JwtVerifier | undefined): StageRun {
    const policy = compileRouteJwt(route.settings.jwt!)
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

    if (verifier === undefined) {
      // A route asks for tokens but there is no `jwt` section: refuse rather than guess.
      return (_request, ctx) => refuse(ctx, new ERR_JWT_KEYS_UNAVAILABLE())
    }
    const maxTokenLength = verifier.maxTokenLength
    return (request: ProxyRequest, ctx: RequestContext): void | Promise<void> => {
      try {
        const token = extractBearer(request.headers.authorization, maxTokenLength)
        if (token === undefined) {
          if (required) throw new ERR_JWT_MISSING()
          return
        }
        const claims = verifier.check(token)
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
      const settings = next.jwt
      let verifier: JwtVerifier | undefined
      let fresh = false
      if (settings !== undefined) {
        if (live !== undefined && sameJwtSettings(live.settings, settings)) {
          verifier = live
        } else {
          verifier = compile(settings)
          fresh = true
        }
      }
      let settled = false
      const prepared: PreparedFeature = {
        compileRoute(route): RouteFeature | undefined {
          if (route.settings.jwt === undefined) return undefined
          return { stage: { phase: 'auth', run: stageFor(route, verifier) } }
        },
        commit() {
          if (settled) return
          settled = true
          const previous = live
          live = verifier
          if (fresh && verifier !== undefined) {
            for (const w of verifier.warnings) log.warn({ jwt: w }, 'jwt settings')
            // Warm the key set so the first request does not pay for the fetch.
            void verifier.jwks?.refresh()
          }
          if (previous !== undefined && previous !== verifier) release(previous)
        },
        discard() {
          if (settled) return
          settled = true
          if (fresh && verifier !== undefined) release(verifier)
        },
      }
      return prepared
    },
    close() {
      for (const v of open) v.close()
      open.clear()
      live = undefined
    },
  }
}
