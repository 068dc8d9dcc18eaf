/**
 * Bearer-token authentication for routes with `jwt: true` or `jwt: { required, claims,
 * forwardClaims }`, with the top-level `jwt` verifier (src/auth/jwt-verifier.ts, on fast-jwt).
 *
 * - `required: true` (and `jwt: true`): no token → 401. `required: false`: anonymous requests
 *   pass, but a token that is present must verify.
 * - Failures are 401 with `WWW-Authenticate: Bearer error="invalid_token"`; a verified token that
 *   lacks a route claim is 403 with `error="insufficient_scope"` (RFC 6750 §3.1).
 * - Verified claims go to ctx.claims (rate-limit keys, sticky splits, explain); `forwardClaims`
 *   values go to ctx.upstreamHeaders. The proxy drops every client-sent header of those names
 *   (also when the client names them in `Connection`) before setting the gateway's values.
 * - Runs in onRequest, after the rate-limit plugin's onRequest: a rate-limited request costs no
 *   verification (unless its key is a claim, which the rate-limit plugin checks afterwards).
 *
 * The verifier is compiled once per configuration and recompiled on reload only when the `jwt`
 * section changed, so a JWKS cache survives unrelated reloads. Why this is not `request.jwtVerify`
 * from @fastify/jwt: docs/security.md, "JWT and @fastify/jwt".
 */
import { metricsOnce } from '../src/metrics.js'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Counter } from 'prom-client'
import type { JwtSettings, RouteJwtSettings } from '../src/config/model.js'
import type { GatewayHandle } from '../src/gateway-handle.js'
import { extractBearer } from '../src/auth/bearer.js'
import { compileRouteJwt } from '../src/auth/claims.js'
import { ERR_JWT_FORBIDDEN, ERR_JWT_KEYS_UNAVAILABLE, ERR_JWT_MISSING } from '../src/auth/errors.js'
import { compileJwtVerifier, type JwtVerifier, type JwtVerifierOptions } from '../src/auth/jwt-verifier.js'
import { kContext, type RequestContext } from '../src/request-context.js'

export interface JwtAuthOptions {
  /** Tuning for embedders and tests (token size cap, JWKS fetch limits); settings come from config. */
  readonly verifier?: JwtVerifierOptions
}

const INVALID_TOKEN = 'Bearer error="invalid_token"'
const INSUFFICIENT_SCOPE = 'Bearer error="insufficient_scope"'

/** Verifiers per gateway, keyed by the frozen `jwt` settings object of each configuration. */
interface Verifiers {
  readonly bySettings: WeakMap<JwtSettings, JwtVerifier>
  readonly live: Set<JwtVerifier>
  refs: number
}

const perGateway = new WeakMap<GatewayHandle, Verifiers>()

function sameJwt(a: JwtSettings, b: JwtSettings): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function verifiersFor(gw: GatewayHandle, options: JwtVerifierOptions): Verifiers {
  let v = perGateway.get(gw)
  if (v !== undefined) return v
  const created: Verifiers = { bySettings: new WeakMap(), live: new Set(), refs: 0 }
  v = created
  perGateway.set(gw, v)
  const compile = (settings: JwtSettings): void => {
    const verifier = compileJwtVerifier(settings, {
      ...options,
      jwks: { ...options.jwks, onFetchError: (err) => gw.log.warn({ err: err.message, jwksUrl: settings.jwksUrl }, 'jwks fetch failed; keeping the last good keys') },
    })
    for (const w of verifier.warnings) gw.log.warn({ jwt: w }, 'jwt settings')
    created.bySettings.set(settings, verifier)
    created.live.add(verifier)
    // Warm the key set so the first request does not pay for the fetch.
    void verifier.jwks?.refresh()
  }
  const initial = gw.state.settings.jwt
  if (initial !== undefined) compile(initial)
  gw.onReload((next, prev) => {
    const a = prev.settings.jwt
    const b = next.settings.jwt
    if (b === undefined) return
    const previous = a === undefined ? undefined : created.bySettings.get(a)
    if (a !== undefined && previous !== undefined && sameJwt(a, b)) {
      created.bySettings.set(b, previous)
      return
    }
    try {
      compile(b)
    } catch (err) {
      // Configuration validation should have caught this; refuse tokens rather than guess.
      gw.log.error({ err: (err as Error).message }, 'jwt verifier could not be compiled; jwt routes answer 503')
    }
    // Requests still on the previous snapshot keep verifying with its cached keys; closing only
    // stops its key-set fetches.
    if (previous !== undefined) {
      previous.close()
      created.live.delete(previous)
    }
  })
  return v
}

function fail(ctx: RequestContext, err: Error): never {
  const status = (err as { statusCode?: number }).statusCode
  if (status === 401 || status === 403) {
    ;(ctx.responseHeaders ??= {})['www-authenticate'] = status === 401 ? INVALID_TOKEN : INSUFFICIENT_SCOPE
  }
  throw err
}

async function jwtAuthPlugin(app: FastifyInstance, opts: JwtAuthOptions): Promise<void> {
  const gw = app.switchyard
  const verifiers = verifiersFor(gw, opts.verifier ?? {})
  verifiers.refs++
  app.addHook('onClose', async () => {
    if (--verifiers.refs === 0) {
      for (const v of verifiers.live) v.close()
      perGateway.delete(gw)
    }
  })
  const registry = gw.metrics.registry
  const rejected =
    metricsOnce(registry, 'jwt-rejected', () =>
      new Counter({
        name: 'switchyard_jwt_rejected_total',
        help: 'Requests refused by JWT authentication, by route and error code',
        labelNames: ['route', 'code'] as const,
        registers: [registry],
      }),
    )

  // Callback style: routes without jwt (most requests) pay no promise.
  app.addHook('onRequest', (request: FastifyRequest, _reply, done) => {
    const ctx = request[kContext]
    const routeJwt = ctx?.route?.settings.jwt
    if (routeJwt === undefined) return done()
    authenticate(request, ctx, routeJwt).then(() => done(), done)
  })

  async function authenticate(request: FastifyRequest, ctx: RequestContext, routeJwt: RouteJwtSettings): Promise<void> {
    const route = compileRouteJwt(routeJwt)
    const settings = ctx.state.settings.jwt
    const verifier = settings === undefined ? undefined : verifiers.bySettings.get(settings)
    try {
      if (verifier === undefined) throw new ERR_JWT_KEYS_UNAVAILABLE()
      const token = extractBearer(request.headers.authorization, verifier.maxTokenLength)
      if (token === undefined) {
        if (route.required) throw new ERR_JWT_MISSING()
        return
      }
      const claims = await verifier.verify(token)
      const missing = route.missingClaim(claims)
      if (missing !== undefined) throw new ERR_JWT_FORBIDDEN(missing)
      ctx.claims = claims
      const forwarded = route.forwardHeaders(claims)
      if (forwarded !== undefined) ctx.upstreamHeaders = Object.assign(ctx.upstreamHeaders ?? {}, forwarded)
    } catch (err) {
      const e = err as Error & { code?: string; cause?: unknown }
      rejected.inc({ route: ctx.route!.name, code: e.code ?? 'unknown' })
      request.log.debug({ reqId: ctx.id, code: e.code, reason: (e.cause as Error | undefined)?.message }, 'jwt refused')
      fail(ctx, e)
    }
  }
}

export default fp(jwtAuthPlugin, {
  name: 'switchyard-jwt-auth',
  fastify: '5.x',
  dependencies: ['switchyard-request-context'],
})
