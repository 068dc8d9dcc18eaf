/**
 * Per-route rate limiting (`routes[].rateLimit: { max, window, key, onStoreError }`) as a
 * feature, counting in @fastify/rate-limit's stores through the framework-free
 * RateLimitStoreHandle (built by plugins/rate-limit-store.ts and handed in).
 *
 * Phase: `early`, before JWT verification and long before any upstream call, so a refused
 * request costs neither; a route keyed on a JWT claim (`key: jwt:sub`) runs in `late`, after the
 * token is verified and ctx.claims is set.
 *
 * Answers: 429 (ERR_RATE_LIMITED) with `Retry-After` when the budget is spent;
 * `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` on every response of a limited
 * route (through ctx.responseHeaders, which the proxy applies after the upstream's headers, so an
 * upstream cannot override them). While the store (Redis) is unreachable a route fails open
 * (served, logged with a throttle, counted in switchyard_ratelimit_store_errors_total) or, with
 * `onStoreError: deny`, closed with 503.
 *
 * Hot path: the key deriver is compiled per route at compileRoute; the store's `incr` is called
 * directly, and since the memory store calls back before `incr` returns, the stage then returns
 * without a promise. Only a store that answers later (Redis) makes it return one.
 */
import { Counter, type Registry } from 'prom-client'
import type { GatewaySettings, RouteRateLimitSettings } from '../config/model.js'
import { metricsOnce } from '../metrics.js'
import type { Feature, RouteFeature, StageRun } from '../pipeline/feature.js'
import type { ProxyRequest } from '../proxy/request.js'
import type { RequestContext } from '../request-context.js'
import { keyValueOf } from '../routing/key-value.js'
import type { CompiledRoute } from '../routing/types.js'
import { ERR_RATE_LIMIT_STORE, ERR_RATE_LIMITED } from './errors.js'
import { retryAfterSeconds } from './headers.js'
import { compileRateLimitKey, type RateLimitKeyInput } from './key.js'
import { MEMORY_BUCKETS, REDIS_KEY_PREFIX, type RateLimitStore, type RateLimitStoreHandle } from './store.js'
import { createMemoryGcraStore, createRedisGcraStore } from './gcra.js'

export interface RateLimitFeatureLog {
  warn(obj: object, msg: string): void
}

export interface RateLimitFeatureDeps {
  readonly log: RateLimitFeatureLog
  /** The gateway's registry: switchyard_ratelimit_store_errors_total is registered there once. */
  readonly registry: Registry
  /** switchyard_ratelimit_rejected_total (gw.metrics.rateLimitRejected). */
  readonly rejected: Counter<'route'>
  /** The gateway's one store; the feature owns it from here on (waits for it, closes it). */
  readonly store: RateLimitStoreHandle
  /** How long the first configuration waits for the store to connect, ms. Default 1000. */
  readonly readyWait?: number
  /** Clock of the store-error log throttle (tests). Default Date.now. */
  readonly now?: () => number
}

/** How often a persisting store failure is logged again (with the count suppressed meanwhile). */
export const STORE_ERROR_LOG_INTERVAL = 10_000

type StoreAnswer = { current: number; ttl: number } | undefined

export function createRateLimitFeature(deps: RateLimitFeatureDeps): Feature {
  const { log, registry, rejected, store: handle } = deps
  const store = handle.store
  const now = deps.now ?? Date.now
  const storeErrors = metricsOnce(registry, 'ratelimit-store-errors', () =>
    new Counter({
      name: 'switchyard_ratelimit_store_errors_total',
      help: 'Rate-limit checks that could not reach the store (served when onStoreError is allow, 503 when deny), by route',
      labelNames: ['route'] as const,
      registers: [registry],
    }),
  )

  // One throttle for connection errors and failed checks: an outage is a few lines, not one per request.
  let lastLog = Number.NEGATIVE_INFINITY
  let suppressed = 0
  const logThrottled = (fields: Record<string, unknown>, msg: string): void => {
    const at = now()
    if (at - lastLog < STORE_ERROR_LOG_INTERVAL) {
      suppressed++
      return
    }
    log.warn({ ...fields, suppressed }, msg)
    lastLog = at
    suppressed = 0
  }
  const unsubscribe = handle.onClientError?.((err) => logThrottled({ err: err.message }, 'rate-limit store connection error'))

  let committed: GatewaySettings['rateLimit'] | undefined
  let readied: Promise<boolean> | undefined

  // GCRA limits count in their own store of the same kind (src/ratelimit/gcra.ts), made on first use.
  let gcraStore: RateLimitStore | undefined
  const gcra = (): RateLimitStore =>
    (gcraStore ??= handle.kind === 'redis' && handle.redis !== undefined ? createRedisGcraStore(handle.redis, REDIS_KEY_PREFIX) : createMemoryGcraStore(MEMORY_BUCKETS))

  /**
   * A route's limits as one stage: every limit must pass, in file order (the first refusal
   * answers). The headers describe the limit closest to refusing (the lowest RateLimit-Remaining).
   */
  function stagesFor(route: CompiledRoute, all: readonly RouteRateLimitSettings[]): RouteFeature {
    if (all.length === 1) return stageFor(route, all[0]!, route.name)
    // Each limit after the first counts in buckets of its own.
    const runs = all.map((l, i) => stageFor(route, l, i === 0 ? route.name : `${route.name}#${i}`).stage!)
    const late = runs.some((r) => r.phase === 'late')
    const steps = runs.map((r) => r.run)
    const from = (i: number, request: ProxyRequest, ctx: RequestContext): void | Promise<void> => {
      for (; i < steps.length; i++) {
        const r = steps[i]!(request, ctx)
        if (r !== undefined) {
          const next = i + 1
          return r.then(() => from(next, request, ctx))
        }
      }
    }
    return { stage: { phase: late ? 'late' : 'early', run: (request, ctx) => from(0, request, ctx) } }
  }

  function stageFor(route: CompiledRoute, settings: RouteRateLimitSettings, bucketName: string): RouteFeature {
    const routeName = route.name
    const labels = { route: routeName }
    const key = compileRateLimitKey(bucketName, settings.key)
    const limiter = settings.algorithm === 'gcra' ? gcra() : store
    const derive = key.derive
    const baseMax = settings.max
    const window = settings.window
    const deny = settings.onStoreError === 'deny'
    const baseLimitText = String(baseMax)
    const source = settings.key
    const needsLookup = source.kind === 'path' || source.kind === 'cookie' || source.kind === 'query'
    // Per-consumer tiers: the key's value (an API key's name, a claim, a header) picks its own max.
    const tiers = settings.tiers === undefined ? undefined : new Map(Object.entries(settings.tiers))
    const tierText = tiers === undefined ? undefined : new Map([...tiers].map(([k, v]) => [k, String(v)]))
    const tierOf = (request: ProxyRequest, ctx: RequestContext): string | undefined =>
      keyValueOf(source, { clientIp: ctx.clientIp, headers: request.headers, claims: ctx.claims, path: ctx.path, query: ctx.query, route: routeName, consumer: ctx.consumer })

    /** Apply the store's answer: headers, and 429 when the budget (`max`, the request's tier) is spent. Throws the answer. */
    const settle = (ctx: RequestContext, err: Error | null | undefined, res: StoreAnswer, max: number, limitText: string): void => {
      if (err || res === undefined) {
        const e = err ?? new Error('rate-limit store gave no answer')
        storeErrors.inc(labels)
        logThrottled({ route: routeName, err: e.message }, 'rate-limit store unavailable')
        if (deny) throw new ERR_RATE_LIMIT_STORE({ cause: e })
        return
      }
      const current = res.current
      const remaining = max - current
      const resetSeconds = Math.max(0, Math.ceil(res.ttl / 1000))
      const headers = (ctx.responseHeaders ??= {})
      // With several limits, the headers describe the one closest to refusing.
      const shown = headers['ratelimit-remaining']
      if (shown === undefined || Number(shown) > remaining || current > max) {
        headers['ratelimit-limit'] = limitText
        headers['ratelimit-remaining'] = String(remaining > 0 ? remaining : 0)
        headers['ratelimit-reset'] = String(resetSeconds)
      }
      if (current > max) {
        rejected.inc(labels)
        const wait = retryAfterSeconds({ limit: max, remaining: 0, resetSeconds })
        headers['retry-after'] = String(wait)
        throw new ERR_RATE_LIMITED(wait)
      }
    }

    const run: StageRun = (request: ProxyRequest, ctx: RequestContext) => {
      const input: RateLimitKeyInput = needsLookup
        ? {
            clientIp: ctx.clientIp,
            headers: request.headers,
            claims: ctx.claims,
            consumer: ctx.consumer,
            lookup: (s) => keyValueOf(s, { clientIp: ctx.clientIp, headers: request.headers, claims: ctx.claims, path: ctx.path, query: ctx.query, route: routeName }),
          }
        : { clientIp: ctx.clientIp, headers: request.headers, claims: ctx.claims, consumer: ctx.consumer }
      const bucket = derive(input)
      let max = baseMax
      let limitText = baseLimitText
      if (tiers !== undefined) {
        const v = tierOf(request, ctx)
        const t = v === undefined ? undefined : tiers.get(v)
        if (t !== undefined) {
          max = t
          limitText = tierText!.get(v!)!
        }
      }
      // The memory store calls back before incr returns: answer inline, no promise. A store that
      // answers later gets the promise created below, whose executor runs before any callback can.
      let sync = true
      let answered = false
      let syncErr: Error | null | undefined
      let syncRes: StoreAnswer
      let resolve: (() => void) | undefined
      let reject: ((e: unknown) => void) | undefined
      const onAnswer = (err: Error | null, res?: { current: number; ttl: number }): void => {
        if (answered) return
        answered = true
        if (sync) {
          syncErr = err
          syncRes = res
          return
        }
        try {
          settle(ctx, err, res, max, limitText)
          resolve!()
        } catch (e) {
          reject!(e)
        }
      }
      try {
        limiter.incr(bucket, onAnswer, window, max)
      } catch (err) {
        // A store that throws instead of calling back is a store failure like any other.
        if (!answered) {
          answered = true
          syncErr = err as Error
        }
      }
      sync = false
      if (answered) return settle(ctx, syncErr, syncRes, max, limitText)
      return new Promise<void>((res, rej) => {
        resolve = res
        reject = rej
      })
    }
    return { stage: { phase: key.needsClaims ? 'late' : 'early', run } }
  }

  return {
    name: 'rate-limit',
    prepare(next) {
      const s = next.rateLimit
      const limited = next.routes.some((r) => r.rateLimit !== undefined)
      const prepared = {
        compileRoute(route: CompiledRoute): RouteFeature | undefined {
          const settings = route.settings.rateLimits ?? (route.settings.rateLimit === undefined ? undefined : [route.settings.rateLimit])
          return settings === undefined ? undefined : stagesFor(route, settings)
        },
        commit() {
          if (committed !== undefined && (committed.store !== s.store || committed.redis !== s.redis)) {
            log.warn({ store: s.store }, 'rateLimit.store and rateLimit.redis changes apply after a restart')
          } else committed = s
        },
      }
      // The first configuration that limits anything waits (briefly) for the store, so the first
      // requests are counted rather than failing open while Redis connects.
      if (!limited || readied !== undefined) return prepared
      readied = handle.ready(deps.readyWait ?? 1000)
      return readied.then(() => prepared)
    },
    async close() {
      unsubscribe?.()
      await handle.close()
    },
  }
}
