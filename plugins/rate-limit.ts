/**
 * Per-route rate limiting (`routes[].rateLimit: { max, window, key, onStoreError }`) on
 * @fastify/rate-limit. The data plane is one catch-all route, so the plugin is registered with
 * `global: false` and this plugin calls its limiter (`fastify.createRateLimit()`) from a hook,
 * with `max`, `timeWindow` and `keyGenerator` read from the request's matched route.
 *
 * Order: the check runs in onRequest, before JWT verification and long before any upstream
 * call, so a refused request costs neither. A route keyed on a JWT claim (`key: jwt:sub`) is
 * checked in preValidation instead, after the jwt-auth plugin's onRequest has verified the token.
 *
 * Answers: 429 `{"statusCode":429,...}` with `Retry-After` when the budget is spent;
 * `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` on every response of a limited
 * route (through ctx.responseHeaders, which the proxy applies after the upstream's headers, so an
 * upstream cannot override them). While the store (Redis) is unreachable a route fails open
 * (served, logged, counted in switchyard_ratelimit_store_errors_total) or, with
 * `onStoreError: deny`, closed with 503.
 */
import { metricsOnce } from '../src/metrics.js'
import fp from 'fastify-plugin'
import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Counter } from 'prom-client'
import type { GatewayHandle } from '../src/gateway-handle.js'
import type { RouteRateLimitSettings } from '../src/config/model.js'
import { keyValue } from '../src/proxy/forward.js'
import { ERR_RATE_LIMIT_STORE, ERR_RATE_LIMITED } from '../src/ratelimit/errors.js'
import { rateLimitHeaders, retryAfterSeconds } from '../src/ratelimit/headers.js'
import { compileRateLimitKey, type CompiledRateLimitKey } from '../src/ratelimit/key.js'
import { createRateLimitStore, type RateLimitStoreHandle } from './rate-limit-store.js'
import { kContext, type RequestContext } from '../src/request-context.js'

/** One store per gateway, shared by its listeners' apps (HTTP and TLS build one app each). */
interface Shared {
  readonly handle: RateLimitStoreHandle
  readonly storeErrors: Counter<'route'>
  refs: number
  noteStoreError(route: string, err: Error): void
}

const shared = new WeakMap<GatewayHandle, Shared>()
const compiledKeys = new WeakMap<RouteRateLimitSettings, CompiledRateLimitKey>()

/** How often a persisting store failure is logged again (with the count suppressed meanwhile). */
const STORE_ERROR_LOG_INTERVAL = 10_000

function sharedFor(gw: GatewayHandle): Shared {
  let s = shared.get(gw)
  if (s !== undefined) return s
  let lastLog = Number.NEGATIVE_INFINITY
  let suppressed = 0
  const logThrottled = (fields: Record<string, unknown>, msg: string): void => {
    const now = Date.now()
    if (now - lastLog < STORE_ERROR_LOG_INTERVAL) {
      suppressed++
      return
    }
    gw.log.warn({ ...fields, suppressed }, msg)
    lastLog = now
    suppressed = 0
  }
  const handle = createRateLimitStore(gw.state.settings.rateLimit, {
    onClientError: (err) => logThrottled({ err: err.message }, 'rate-limit store connection error'),
  })
  const registry = gw.metrics.registry
  const storeErrors =
    metricsOnce(registry, 'ratelimit-store-errors', () =>
      new Counter({
        name: 'switchyard_ratelimit_store_errors_total',
        help: 'Rate-limit checks that could not reach the store (served when onStoreError is allow, 503 when deny), by route',
        labelNames: ['route'] as const,
        registers: [registry],
      }),
    )
  s = {
    handle,
    storeErrors,
    refs: 0,
    noteStoreError(route, err) {
      storeErrors.inc({ route })
      logThrottled({ route, err: err.message }, 'rate-limit store unavailable')
    },
  }
  shared.set(gw, s)
  gw.onReload((next, prev) => {
    const a = prev.settings.rateLimit
    const b = next.settings.rateLimit
    if (a.store !== b.store || a.redis !== b.redis) gw.log.warn('rateLimit.store and rateLimit.redis changes apply after a restart')
  })
  return s
}

function compiledKey(ctx: RequestContext): CompiledRateLimitKey {
  const route = ctx.route!
  const settings = route.settings.rateLimit!
  let k = compiledKeys.get(settings)
  if (k === undefined) {
    k = compileRateLimitKey(route.name, settings.key)
    compiledKeys.set(settings, k)
  }
  return k
}

async function rateLimitPlugin(app: FastifyInstance): Promise<void> {
  const gw = app.switchyard
  const s = sharedFor(gw)
  if (s.refs++ === 0) await s.handle.ready(1000)
  app.addHook('onClose', async () => {
    if (--s.refs === 0) {
      shared.delete(gw)
      await s.handle.close()
    }
  })

  const store = s.handle.store
  await app.register(fastifyRateLimit, {
    global: false,
    // @fastify/rate-limit constructs `new store(options)`; returning the shared instance makes every app count in one place.
    store: function SharedStore() {
      return store
    } as unknown as NonNullable<Parameters<typeof fastifyRateLimit>[1]>['store'],
    // Store errors reach us, so each route can fail open or closed.
    skipOnError: false,
    keyGenerator(request: FastifyRequest) {
      const ctx = request[kContext]
      return compiledKey(ctx).derive({
        clientIp: ctx.clientIp,
        headers: request.headers,
        claims: ctx.claims,
        lookup: (source) => keyValue(source, request, ctx),
      })
    },
    max: (request: FastifyRequest) => request[kContext].route!.settings.rateLimit!.max,
    timeWindow: (request: FastifyRequest) => request[kContext].route!.settings.rateLimit!.window,
  })
  const check = app.createRateLimit()
  const rejected = gw.metrics.rateLimitRejected

  async function enforce(request: FastifyRequest, ctx: RequestContext, settings: RouteRateLimitSettings): Promise<void> {
    let outcome: Awaited<ReturnType<typeof check>>
    try {
      outcome = await check(request)
    } catch (err) {
      s.noteStoreError(ctx.route!.name, err as Error)
      if (settings.onStoreError === 'deny') throw new ERR_RATE_LIMIT_STORE({ cause: err })
      return
    }
    if (outcome.isAllowed) return
    const state = { limit: outcome.max, remaining: outcome.remaining, resetSeconds: Math.max(0, outcome.ttlInSeconds) }
    const headers = (ctx.responseHeaders ??= {})
    Object.assign(headers, rateLimitHeaders(state))
    if (outcome.isExceeded) {
      rejected.inc({ route: ctx.route!.name })
      const wait = retryAfterSeconds(state)
      headers['retry-after'] = String(wait)
      throw new ERR_RATE_LIMITED(wait)
    }
  }

  // Callback-style hooks: routes without a limit (most requests) pay no promise.
  app.addHook('onRequest', (request, _reply, done) => {
    const ctx = request[kContext]
    const settings = ctx?.route?.settings.rateLimit
    if (settings === undefined || compiledKey(ctx).needsClaims) return done()
    enforce(request, ctx, settings).then(() => done(), done)
  })
  // Claim-keyed routes: after jwt-auth's onRequest has verified the token and set ctx.claims.
  app.addHook('preValidation', (request, _reply, done) => {
    const ctx = request[kContext]
    const settings = ctx?.route?.settings.rateLimit
    if (settings === undefined || !compiledKey(ctx).needsClaims) return done()
    enforce(request, ctx, settings).then(() => done(), done)
  })
}

export default fp(rateLimitPlugin, {
  name: 'switchyard-rate-limit',
  fastify: '5.x',
  dependencies: ['switchyard-request-context'],
})
