/**
 * The cache as a ForwardMiddleware: it sits in front of the proxy's forward and answers from
 * the store when RFC 9111 allows, goes upstream (conditionally when it can) when not, and
 * stores what may be stored. Every response of a cached route carries `Cache-Status`
 * (RFC 9211); responses served from the store carry `Age` (RFC 9111 §5.1).
 *
 * Failure of the store (e.g. Redis down) never fails a request: it is logged and the request
 * goes upstream as a miss.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Logger } from 'pino'
import type { Counter } from 'prom-client'
import { ERR_NO_BACKEND, ERR_UPSTREAM_CONNECT, ERR_UPSTREAM_RESET, errorBody } from '../errors.js'
import type { ProxyRequest } from '../proxy/request.js'
import type { Forward, ForwardMiddleware, ForwardOptions, UpstreamResponse } from '../proxy/types.js'
import type { RequestContext } from '../request-context.js'
import type { RuntimeState } from '../runtime-state.js'
import type { CompiledRoute } from '../routing/types.js'
import { collectUpTo } from './body.js'
import { requestDirectives, type RequestDirectives } from './cache-control.js'
import { Coalescer, type Flight } from './coalescer.js'
import { FillBudget, fillLimits } from './fill-budget.js'
import { bypassReason, entryKey, urlKey } from './key.js'
import {
  clientNotModified,
  decideStore,
  evaluate,
  hasValidator,
  isUnsafeMethod,
  mayServeStaleOnError,
  notModifiedMatches,
  updatedHeaders,
  validationHeaders,
  type CacheRules,
} from './policy.js'
import { singleRange } from './range.js'
import { announceSurrogate, ensurePool, sameOriginTarget, upstreamHeader } from './request-view.js'
import { clientView, discard, entryResponse, HIDDEN, MEMBER, storedHeaders, withStatus } from './responses.js'
import { CDN_CACHE_CONTROL, targetList } from './targeted.js'
import type { RemoteStore } from './shared-store.js'
import type { CacheEntry, CacheStore } from './store.js'

/** Values of `result` in switchyard_cache_requests_total and of ctx.cacheResult. */

/**
 * The gateway's own errors that mean the origin could not be reached at all (RFC 9111 §4.2.4
 * "disconnected"): refused, reset or closed before a response, no backend available. A timeout
 * or an invalid response is not: the origin is there, and may be working on it.
 */
const DISCONNECTED: ReadonlySet<string> = new Set([new ERR_UPSTREAM_CONNECT().code, new ERR_UPSTREAM_RESET().code, new ERR_NO_BACKEND('').code])

/** Client validators dropped from a cache fill (RFC 9110 §13.1.2, §13.1.3). */
const CLIENT_CONDITIONALS = ['if-none-match', 'if-modified-since'] as const

export type CacheResult =
  | 'hit'
  | 'miss'
  | 'coalesced'
  | 'stale-while-revalidate'
  | 'stale-if-error'
  | 'revalidated'
  | 'updated'
  | 'bypass'
  | 'only-if-cached'
  | 'shed'

export interface CacheMiddlewareDeps {
  readonly store: CacheStore
  /** Global entry bound (cache.maxEntrySize). */
  readonly maxEntrySize: number
  /** The store's byte bound (cache.maxSize): in-flight fills are bounded from it (fill-budget.ts). */
  readonly maxSize?: number
  readonly requests: Counter<'route' | 'result'>
  readonly log: Logger
  /** Wall clock in epoch ms (Date.now); injectable for tests. */
  readonly now?: () => number
  /**
   * The process's fills when worker threads share one store (src/cache/shared-store.ts): this
   * worker's leader of a miss joins them, so misses on different workers fetch once.
   */
  readonly processFills?: Pick<RemoteStore, 'joinFill'>
}

export interface CacheMiddleware {
  readonly middleware: ForwardMiddleware
  /** Background refreshes in flight (stale-while-revalidate). */
  readonly refreshing: ReadonlySet<string>
  /** Fills in flight and their bytes, against their bound. */
  readonly fills: FillBudget
}

/** Shedding is logged at most once per this many ms (with how many since the last line). */
const SHED_LOG_INTERVAL_MS = 10_000

/** Per route, computed once: the policy inputs and how long coalesced requests wait. */
interface RouteCache {
  readonly rules: CacheRules
  /** Response fields never shown to clients (HIDDEN plus our RFC 9213 targeted field). */
  readonly hidden: readonly string[]
  /** Keep Set-Cookie in stored entries (cache.storeSetCookie). */
  readonly keepSetCookie: boolean
  /** The slowest pool's response timeout: longer, and followers would wait on a lost cause. */
  readonly coalesceMs: number
}

/** One client request on a cached route, as every step needs it. */
interface Job {
  readonly request: ProxyRequest
  readonly ctx: RequestContext
  readonly next: Forward
  readonly route: CompiledRoute
  readonly rc: RouteCache
  /** Primary key. */
  readonly url: string
  /** The full key of the variant this request selects, given a response's Vary names. */
  readonly keyFor: (vary: readonly string[]) => string
  readonly directives: RequestDirectives
  readonly head: boolean
}

/** How fetch() reports and what it may fall back on. */
interface FetchPlan {
  /** Metric result when a response (not a 304, not stale) comes back. */
  readonly result: CacheResult
  /** The Cache-Status `fwd` parameter. */
  readonly fwd: string
  /** The entry being validated or replaced, if any: stale-if-error falls back on it. */
  readonly previous?: CacheEntry
  readonly validators?: Record<string, string>
  /** Called with the entry once stored (to share it with coalesced requests). */
  readonly onStored?: (e: CacheEntry) => void
}

export function createCacheMiddleware(deps: CacheMiddlewareDeps): CacheMiddleware {
  const { store, log, requests } = deps
  const now = deps.now ?? Date.now
  const fills = new FillBudget(fillLimits(deps.maxSize ?? 64 * 1024 * 1024, deps.maxEntrySize))
  const coalescer = new Coalescer<CacheEntry>(30_000, undefined, { maxFlights: fills.limits.maxFills, maxWaiters: fills.limits.maxWaiters })
  let shedLoggedAt = -Infinity
  let shedSinceLog = 0
  const refreshing = new Set<string>()
  const routeCaches = new WeakMap<CompiledRoute, RouteCache>()
  const anyCached = new WeakMap<RuntimeState, boolean>()

  function routeCache(route: CompiledRoute, state: RuntimeState): RouteCache {
    let rc = routeCaches.get(route)
    if (rc === undefined) {
      const c = route.settings.cache!
      let coalesceMs = 1000
      for (const t of route.split.targets) {
        const p = state.pools.get(t.pool)
        if (p) coalesceMs = Math.max(coalesceMs, p.settings.timeouts.response)
      }
      const own = state.settings.cache.targetedField.toLowerCase()
      rc = {
        rules: {
          ttl: c.ttl,
          staleWhileRevalidate: c.staleWhileRevalidate,
          staleIfError: c.staleIfError,
          staleIfDisconnected: c.staleIfDisconnected,
          maxEntrySize: deps.maxEntrySize,
          targets: targetList(own),
          storeSetCookie: c.storeSetCookie,
        },
        hidden: own === CDN_CACHE_CONTROL ? HIDDEN : Object.freeze([...HIDDEN, own]),
        keepSetCookie: c.storeSetCookie,
        coalesceMs,
      }
      routeCaches.set(route, rc)
    }
    return rc
  }

  function cachingConfigured(state: RuntimeState): boolean {
    let v = anyCached.get(state)
    if (v === undefined) anyCached.set(state, (v = state.settings.routes.some((r) => r.cache !== undefined)))
    return v
  }

  function count(job: { ctx: RequestContext; route: CompiledRoute }, result: CacheResult): void {
    job.ctx.cacheResult = result
    requests.inc({ route: job.route.name, result })
  }

  /** A miss passed through uncached because fills are at their bound: counted, logged sparingly. */
  function noteShed(j: Job, why: string): void {
    count(j, 'shed')
    fills.shedOne()
    shedSinceLog++
    const t = now()
    if (t - shedLoggedAt >= SHED_LOG_INTERVAL_MS) {
      shedLoggedAt = t
      const s = fills.stats()
      log.warn({ route: j.route.name, why, shed: shedSinceLog, fills: s.fills, fillBytes: s.bytes, limits: fills.limits }, 'cache fills at their bound: misses pass through uncached')
      shedSinceLog = 0
    }
  }

  /** Shed before any upstream request: forward as is, stream the answer, store nothing. */
  async function passThrough(j: Job, why: string): Promise<UpstreamResponse> {
    noteShed(j, why)
    return withStatus(await j.next(j.request, j.ctx), 'fwd=miss; detail=shed')
  }

  function job(request: ProxyRequest, ctx: RequestContext, next: Forward, route: CompiledRoute): Job {
    ensurePool(request, ctx, route)
    const url = urlKey({ protocol: ctx.protocol, host: request.headers.host, path: ctx.path, query: ctx.query })
    const header = upstreamHeader(request, ctx)
    return {
      request,
      ctx,
      next,
      route,
      rc: routeCache(route, ctx.state),
      url,
      keyFor: (vary) => entryKey(url, route.name, ctx.pool, vary, header),
      directives: requestDirectives(request.headers),
      head: request.method === 'HEAD',
    }
  }

  function answer(j: Job, entry: CacheEntry, status: string, ageMs?: number): UpstreamResponse {
    return entryResponse(entry, j.request.method, j.request.headers, status, now(), j.rc.hidden, ageMs)
  }

  const middleware: ForwardMiddleware = (next: Forward): Forward =>
    async function cache(request: ProxyRequest, ctx: RequestContext, options?: ForwardOptions): Promise<UpstreamResponse> {
      // Internal calls (revalidation by an outer middleware, mirroring) pass straight through.
      if (options !== undefined) return next(request, ctx, options)
      const route = ctx.route!
      const method = request.method
      if (route.settings.cache === undefined) {
        if (isUnsafeMethod(method) && cachingConfigured(ctx.state)) return invalidating(request, ctx, next)
        return next(request, ctx)
      }
      const bypass = bypassReason(method, request.headers)
      if (bypass === undefined) return serve(job(request, ctx, next, route))
      if (bypass === 'range' && method === 'GET' && request.headers['if-range'] === undefined) {
        const ranged = await rangeFromStore(job(request, ctx, next, route))
        if (ranged !== undefined) return ranged
      }
      count({ ctx, route }, 'bypass')
      const res = isUnsafeMethod(method) ? await invalidating(request, ctx, next) : await next(request, ctx)
      return withStatus(res, `fwd=bypass; detail=${bypass}`)
    }

  async function serve(j: Job): Promise<UpstreamResponse> {
    const entry = await lookup(j)
    if (entry !== undefined) {
      const verdict = evaluate(entry.freshness, j.directives, now())
      if (verdict === 'fresh') {
        count(j, 'hit')
        return answer(j, entry, 'hit')
      }
      if (verdict === 'stale-allowed') {
        count(j, 'hit')
        return answer(j, entry, 'hit; detail=max-stale')
      }
      if (verdict === 'stale-while-revalidate') {
        count(j, 'stale-while-revalidate')
        refreshInBackground(j, entry)
        return answer(j, entry, 'hit; detail=stale-while-revalidate')
      }
      return revalidate(j, entry)
    }
    if (j.directives.onlyIfCached) {
      // §5.2.1.7: nothing stored may answer; 504 without contacting the origin.
      count(j, 'only-if-cached')
      return {
        statusCode: 504,
        headers: { 'content-type': 'application/json; charset=utf-8', 'cache-status': `${MEMBER}; detail=only-if-cached` },
        body: Buffer.from(errorBody(504, 'not in cache (only-if-cached)', 'SWITCHYARD_NOT_CACHED')),
      }
    }

    // Miss: one upstream request per key; concurrent misses wait for it.
    const c = coalescer.join(j.keyFor([]), j.rc.coalesceMs)
    if (c === undefined) return passThrough(j, 'coalescing bound')
    if (!c.leader) {
      const shared = await c.shared
      if (shared !== undefined && j.keyFor(shared.vary) === shared.key) {
        count(j, 'coalesced')
        return answer(j, shared, 'fwd=miss; collapsed')
      }
      return fetch(j, { result: 'miss', fwd: 'fwd=miss' })
    }
    let shared: CacheEntry | undefined
    let processFlight: Flight<CacheEntry> | undefined
    try {
      // The entry may have landed between our lookup and taking the lead.
      const again = await lookup(j)
      if (again !== undefined && evaluate(again.freshness, j.directives, now()) === 'fresh') {
        shared = again
        count(j, 'hit')
        return answer(j, again, 'hit')
      }
      // Worker threads: another worker may be fetching this key already; wait for it.
      const p = deps.processFills === undefined ? undefined : await deps.processFills.joinFill(j.keyFor([]), j.rc.coalesceMs)
      if (p?.leader === true) processFlight = p.flight
      else if (p !== undefined && p.entry !== undefined && j.keyFor(p.entry.vary) === p.entry.key) {
        shared = p.entry
        count(j, 'coalesced')
        return answer(j, p.entry, 'fwd=miss; collapsed')
      }
      return await fetch(j, { result: 'miss', fwd: 'fwd=miss', onStored: (e) => (shared = e) })
    } finally {
      c.flight.settle(shared)
      processFlight?.settle(shared)
    }
  }

  /** §4.3: validate a stale entry (or one the request wants validated) with the origin. */
  async function revalidate(j: Job, entry: CacheEntry): Promise<UpstreamResponse> {
    const d = j.directives
    const byClient = d.noCache || d.maxAge !== undefined || d.minFresh !== undefined
    const plan: FetchPlan = {
      result: 'updated',
      fwd: byClient ? 'fwd=request' : 'fwd=stale',
      previous: entry,
      validators: hasValidator(entry.headers) ? validationHeaders(entry.headers) : undefined,
    }
    // A client that asked for validation gets its own; an entry that merely went stale is
    // validated once for all concurrent requests (no thundering herd on expiry).
    if (byClient) return fetch(j, plan)
    const c = coalescer.join(`stale\n${entry.key}`, j.rc.coalesceMs)
    // At the coalescing bound: validate alone (the fill bound still applies in fetch).
    if (c === undefined) return fetch(j, plan)
    if (!c.leader) {
      const shared = await c.shared
      if (shared !== undefined && shared.key === entry.key && evaluate(shared.freshness, d, now()) === 'fresh') {
        count(j, 'coalesced')
        return answer(j, shared, 'fwd=stale; collapsed')
      }
      return fetch(j, plan)
    }
    let shared: CacheEntry | undefined
    try {
      return await fetch(j, { ...plan, onStored: (e) => (shared = e) })
    } finally {
      c.flight.settle(shared)
    }
  }

  /** Go upstream (GET even for HEAD, so the entry can serve both), store if allowed, answer. */
  async function fetch(j: Job, plan: FetchPlan): Promise<UpstreamResponse> {
    const { request, ctx } = j
    announceSurrogate(request, ctx)
    // A fill asks for the whole representation: the client's own conditionals would turn it into
    // a 304 that fills nothing (the cache answers them from the stored entry next time).
    const conditional = request.headers['if-none-match'] !== undefined || request.headers['if-modified-since'] !== undefined
    const opts: ForwardOptions | undefined =
      j.head || plan.validators || conditional
        ? { method: 'GET', extraHeaders: plan.validators, ...(conditional ? { dropHeaders: CLIENT_CONDITIONALS } : {}) }
        : undefined
    const requestTime = now()
    let res: UpstreamResponse
    try {
      res = await j.next(request, ctx, opts)
    } catch (err) {
      // RFC 5861 "error": the gateway's own 502/503/504 (connect error, reset, timeout, every
      // backend and fallback down), never a client-side failure.
      const status = (err as { statusCode?: number }).statusCode
      const disconnected = DISCONNECTED.has((err as { code?: string }).code ?? '')
      if (plan.previous !== undefined && (status === undefined || status >= 500) && mayServeStaleOnError(plan.previous.freshness, now(), disconnected)) {
        count(j, 'stale-if-error')
        log.info({ reqId: ctx.id, route: j.route.name, err: (err as Error).message }, 'serving stale entry: upstream failed')
        return answer(j, plan.previous, mayServeStaleOnError(plan.previous.freshness, now()) ? 'fwd=stale; detail=stale-if-error' : 'fwd=stale; detail=disconnected')
      }
      count(j, 'miss')
      // The proxy writes the error answer, copying headers it knows from ctx.responseHeaders.
      ;(ctx.responseHeaders ??= {})['cache-status'] = `${MEMBER}; ${plan.previous !== undefined ? 'fwd=stale' : 'fwd=miss'}; detail=upstream-error`
      throw err
    }
    const responseTime = now()
    if (plan.previous !== undefined && res.statusCode >= 500 && mayServeStaleOnError(plan.previous.freshness, responseTime)) {
      discard(res)
      count(j, 'stale-if-error')
      return answer(j, plan.previous, `fwd=stale; fwd-status=${res.statusCode}; detail=stale-if-error`)
    }
    if (plan.previous !== undefined && res.statusCode === 304) return applyNotModified(j, plan, res, requestTime, responseTime)

    const status = plan.previous !== undefined ? `${plan.fwd}; fwd-status=${res.statusCode}` : plan.fwd
    const decision = decideStore({ method: 'GET', requestHeaders: request.headers, status: res.statusCode, responseHeaders: res.headers, requestTime, responseTime }, j.rc.rules)
    if (!decision.store) {
      count(j, plan.result)
      if (plan.previous !== undefined) void safeDelete(plan.previous.key, ctx)
      return withStatus(clientView(res, j.head, j.rc.hidden), `${status}; detail=${decision.reason}`)
    }
    // Buffer for storage only within the fill budget; past it the response streams through.
    const fill = fills.start(declaredLength(res.headers['content-length'], j.rc.rules.maxEntrySize))
    let collected
    try {
      collected = await collectUpTo(res.body, j.rc.rules.maxEntrySize, fill === undefined ? refuse : fill.charge)
    } catch (err) {
      fill?.end()
      count(j, plan.result)
      log.warn({ reqId: ctx.id, err: (err as Error).message }, 'upstream body failed while caching')
      const e = new ERR_UPSTREAM_RESET()
      e.cause = err
      throw e
    }
    if (!collected.complete) {
      fill?.end()
      if (collected.reason === 'shed') noteShed(j, 'fill bound')
      else count(j, plan.result)
      // Too large to store, or no room to buffer it: the client gets it streamed; a HEAD wants none of it.
      if (j.head) collected.stream.destroy()
      return withStatus(clientView({ ...res, body: j.head ? null : collected.stream }, j.head, j.rc.hidden), `${status}; detail=${collected.reason}`)
    }
    count(j, plan.result)
    const entry: CacheEntry = {
      key: j.keyFor(decision.vary),
      urlKey: j.url,
      path: ctx.path,
      tags: decision.tags,
      vary: decision.vary,
      status: res.statusCode,
      headers: storedHeaders(res.headers, j.rc.keepSetCookie),
      body: collected.body,
      freshness: decision.freshness,
    }
    // The store refuses an entry whose headers push it over maxEntrySize (too-large), or is
    // unreachable (store-error): either way this client still gets the response.
    let outcome = 'stored'
    try {
      if (!(await store.set(entry, decision.retainMs))) outcome = 'detail=too-large'
    } catch (err) {
      outcome = 'detail=store-error'
      log.warn({ reqId: ctx.id, err: (err as Error).message }, 'cache store failed; response not stored')
    } finally {
      fill?.end()
    }
    if (outcome === 'stored') plan.onStored?.(entry)
    const out = clientView({ statusCode: res.statusCode, headers: res.headers, body: j.head ? null : collected.body }, false, j.rc.hidden)
    if (!j.head) out.headers['content-length'] = String(collected.body.length)
    return withStatus(out, `${status}; ${outcome}`)
  }

  /** §4.3.3/§4.3.4: a 304 for the entry being validated. */
  async function applyNotModified(j: Job, plan: FetchPlan, res: UpstreamResponse, requestTime: number, responseTime: number): Promise<UpstreamResponse> {
    const entry = plan.previous!
    discard(res)
    if (!notModifiedMatches(entry.headers, res.headers)) {
      // The 304 selects no stored response: drop ours and fetch the full response.
      await safeDelete(entry.key, j.ctx)
      return fetch(j, { result: 'miss', fwd: 'fwd=miss' })
    }
    count(j, 'revalidated')
    const refreshed = refreshedEntry(j, entry, res, requestTime, responseTime)
    if (refreshed === undefined) {
      // Validated, but no longer storable (e.g. the 304 says no-store): serve it this once.
      await safeDelete(entry.key, j.ctx)
      return answer(j, entry, `${plan.fwd}; fwd-status=304`, 0)
    }
    let stored = false
    try {
      stored = await store.set(refreshed.entry, refreshed.retainMs)
    } catch (err) {
      log.warn({ reqId: j.ctx.id, err: (err as Error).message }, 'cache store failed; refreshed entry not stored')
    }
    if (stored) plan.onStored?.(refreshed.entry)
    return answer(j, refreshed.entry, stored ? `${plan.fwd}; fwd-status=304; stored` : `${plan.fwd}; fwd-status=304`)
  }

  /** RFC 5861 §3: refresh a stale entry once, in the background, while it is being served. */
  function refreshInBackground(j: Job, entry: CacheEntry): void {
    if (refreshing.has(entry.key)) return
    // At the fill bound, skip the refresh: the stale entry is served, a later hit refreshes it.
    const fill = fills.start()
    if (fill === undefined) return
    refreshing.add(entry.key)
    const { request, ctx } = j
    const run = async (): Promise<void> => {
      announceSurrogate(request, ctx)
      const requestTime = now()
      const res = await j.next(request, ctx, { purpose: 'revalidate', method: 'GET', noBody: true, extraHeaders: validationHeaders(entry.headers) })
      const responseTime = now()
      if (res.statusCode === 304) {
        discard(res)
        const r = notModifiedMatches(entry.headers, res.headers) ? refreshedEntry(j, entry, res, requestTime, responseTime) : undefined
        if (r === undefined) await store.delete(entry.key)
        else await store.set(r.entry, r.retainMs)
        return
      }
      // An error keeps the stale entry (its stale-if-error window may still serve it).
      if (res.statusCode >= 500) return discard(res)
      const decision = decideStore({ method: 'GET', requestHeaders: request.headers, status: res.statusCode, responseHeaders: res.headers, requestTime, responseTime }, j.rc.rules)
      if (!decision.store || decision.vary.join() !== entry.vary.join()) {
        discard(res)
        await store.delete(entry.key)
        return
      }
      const collected = await collectUpTo(res.body, j.rc.rules.maxEntrySize, fill.charge)
      if (!collected.complete) {
        collected.stream.destroy()
        if (collected.reason === 'too-large') await store.delete(entry.key)
        return
      }
      await store.set(
        { ...entry, tags: decision.tags, status: res.statusCode, headers: storedHeaders(res.headers, j.rc.keepSetCookie), body: collected.body, freshness: decision.freshness },
        decision.retainMs,
      )
    }
    run()
      .catch((err: unknown) => log.debug({ reqId: ctx.id, err: (err as Error).message }, 'background refresh failed'))
      .finally(() => {
        fill.end()
        refreshing.delete(entry.key)
      })
  }

  /** The entry updated by a matching 304 (§3.2), or undefined when it may no longer be stored. */
  function refreshedEntry(j: Job, entry: CacheEntry, res: UpstreamResponse, requestTime: number, responseTime: number): { entry: CacheEntry; retainMs: number } | undefined {
    const headers = storedHeaders(updatedHeaders(entry.headers, res.headers) as IncomingHttpHeaders, j.rc.keepSetCookie)
    // A 304 carries no body, so its Content-Length must not veto the stored one.
    const decision = decideStore(
      {
        method: 'GET',
        requestHeaders: j.request.headers,
        status: entry.status,
        responseHeaders: { ...headers, 'content-length': String(entry.body.length) } as IncomingHttpHeaders,
        requestTime,
        responseTime,
      },
      j.rc.rules,
    )
    if (!decision.store) return undefined
    return { entry: { ...entry, headers, tags: decision.tags, freshness: decision.freshness }, retainMs: decision.retainMs }
  }

  /** A single byte range cut from a fresh, complete stored 200 (RFC 9110 §14.2, §15.3.7). */
  async function rangeFromStore(j: Job): Promise<UpstreamResponse | undefined> {
    const entry = await lookup(j)
    if (entry === undefined || entry.status !== 200 || evaluate(entry.freshness, j.directives, now()) !== 'fresh') return undefined
    // Preconditions come before Range (RFC 9110 §13.2.2).
    if (clientNotModified(entry.headers, j.request.headers, entry.freshness.responseTime)) {
      count(j, 'hit')
      return answer(j, entry, 'hit')
    }
    const r = singleRange(j.request.headers.range, entry.body.length)
    if (r === undefined) return undefined
    count(j, 'hit')
    const res = answer(j, entry, 'hit')
    res.headers['content-range'] = `bytes ${r.start}-${r.end}/${entry.body.length}`
    res.headers['content-length'] = String(r.end - r.start + 1)
    return { statusCode: 206, headers: res.headers, body: entry.body.subarray(r.start, r.end + 1) }
  }

  /** §4.4: a non-error response to an unsafe method invalidates the stored responses of its URI. */
  async function invalidating(request: ProxyRequest, ctx: RequestContext, next: Forward): Promise<UpstreamResponse> {
    const res = await next(request, ctx)
    if (res.statusCode < 400) {
      const host = request.headers.host
      try {
        await store.deleteUrl(urlKey({ protocol: ctx.protocol, host, path: ctx.path, query: ctx.query }))
        // Also the URIs in Location and Content-Location, when they share our origin (another
        // origin's entries are not ours to drop: that would let one site purge another).
        for (const name of ['location', 'content-location'] as const) {
          const target = sameOriginTarget(res.headers[name], ctx.protocol, host, ctx.path)
          if (target !== undefined) await store.deleteUrl(urlKey({ protocol: ctx.protocol, host, path: target.path, query: target.query }))
        }
      } catch (err) {
        log.warn({ err, reqId: ctx.id }, 'cache invalidation failed')
      }
    }
    return res
  }

  async function lookup(j: Job): Promise<CacheEntry | undefined> {
    try {
      return await store.lookup(j.url, j.keyFor)
    } catch (err) {
      log.warn({ reqId: j.ctx.id, err: (err as Error).message }, 'cache lookup failed; treating as a miss')
      return undefined
    }
  }

  async function safeDelete(key: string, ctx: RequestContext): Promise<void> {
    try {
      await store.delete(key)
    } catch (err) {
      log.warn({ reqId: ctx.id, err: (err as Error).message }, 'cache delete failed')
    }
  }

  return { middleware, refreshing, fills }
}

const refuse = (): boolean => false

/** The Content-Length to reserve up front (0 when absent, malformed or past the entry bound). */
function declaredLength(v: string | undefined, max: number): number {
  if (v === undefined) return 0
  const n = Number(v)
  return Number.isSafeInteger(n) && n >= 0 && n <= max ? n : 0
}
