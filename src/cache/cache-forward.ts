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
import type { FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Counter } from 'prom-client'
import { ERR_UPSTREAM_RESET, errorBody } from '../errors.js'
import { appendSetCookie } from '../proxy/cookies.js'
import type { Forward, ForwardMiddleware, ForwardOptions, UpstreamResponse } from '../proxy/types.js'
import type { RequestContext } from '../request-context.js'
import type { RuntimeState } from '../runtime-state.js'
import { normalizePath, type NormalizedTarget } from '../routing/normalize-path.js'
import type { CompiledRoute } from '../routing/types.js'
import { collectUpTo } from './body.js'
import { requestDirectives, type RequestDirectives } from './cache-control.js'
import { Coalescer } from './coalescer.js'
import { bypassReason, entryKey, urlKey } from './key.js'
import {
  clientNotModified,
  currentAge,
  decideStore,
  evaluate,
  hasValidator,
  isUnsafeMethod,
  mayServeStaleOnError,
  notModifiedMatches,
  NOT_MODIFIED_FIELDS,
  updatedHeaders,
  validationHeaders,
  SURROGATE_CAPABILITY,
  type CacheRules,
} from './policy.js'
import { singleRange } from './range.js'
import type { CacheEntry, CacheStore } from './store.js'

/** Values of `result` in switchyard_cache_requests_total and of ctx.cacheResult. */
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

export interface CacheMiddlewareDeps {
  readonly store: CacheStore
  /** Global entry bound (cache.maxEntrySize). */
  readonly maxEntrySize: number
  readonly requests: Counter<'route' | 'result'>
  readonly log: Logger
  /** Wall clock in epoch ms (Date.now); injectable for tests. */
  readonly now?: () => number
}

export interface CacheMiddleware {
  readonly middleware: ForwardMiddleware
  /** Background refreshes in flight (stale-while-revalidate). */
  readonly refreshing: ReadonlySet<string>
}

const MEMBER = 'switchyard'
// Response fields never stored: Age is recomputed on every use, Set-Cookie is never stored.
const NOT_STORED = new Set(['age', 'set-cookie'])
// Stored (a 304 refresh re-reads them) but never shown to clients: purge tags and surrogate
// controls are instructions to this gateway (CDNs strip them too).
const HIDDEN = ['cache-tag', 'surrogate-control'] as const
// Forwarding headers from an untrusted peer are dropped by the proxy, so they never reach the
// upstream and must not split the key either.
const FORWARDING = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded', 'x-real-ip'])

interface RouteCache {
  readonly rules: CacheRules
  /** How long followers wait for a coalesced miss: the slowest pool's response timeout. */
  readonly coalesceMs: number
}

export function createCacheMiddleware(deps: CacheMiddlewareDeps): CacheMiddleware {
  const { store, log, requests } = deps
  const now = deps.now ?? Date.now
  const coalescer = new Coalescer<CacheEntry>(30_000)
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
      rc = { rules: { ttl: c.ttl, staleWhileRevalidate: c.staleWhileRevalidate, staleIfError: c.staleIfError, maxEntrySize: deps.maxEntrySize }, coalesceMs }
      routeCaches.set(route, rc)
    }
    return rc
  }

  function cachingConfigured(state: RuntimeState): boolean {
    let v = anyCached.get(state)
    if (v === undefined) anyCached.set(state, (v = state.settings.routes.some((r) => r.cache !== undefined)))
    return v
  }

  function count(ctx: RequestContext, route: string, result: CacheResult): void {
    ctx.cacheResult = result
    requests.inc({ route, result })
  }

  const middleware: ForwardMiddleware = (next: Forward): Forward =>
    async function cache(request: FastifyRequest, ctx: RequestContext, options?: ForwardOptions): Promise<UpstreamResponse> {
      // Internal calls (revalidation by an outer middleware, mirroring) pass straight through.
      if (options !== undefined) return next(request, ctx, options)
      const route = ctx.route!
      const method = request.method
      if (route.settings.cache === undefined) {
        if (isUnsafeMethod(method) && cachingConfigured(ctx.state)) return invalidating(request, ctx, next)
        return next(request, ctx)
      }
      const bypass = bypassReason(method, request.headers)
      if (bypass === 'range' && method === 'GET' && request.headers['if-range'] === undefined) {
        const ranged = await rangeFromStore(request, ctx, route)
        if (ranged !== undefined) return ranged
      }
      if (bypass !== undefined) {
        count(ctx, route.name, 'bypass')
        const res = isUnsafeMethod(method) ? await invalidating(request, ctx, next) : await next(request, ctx)
        return withStatus(res, `fwd=bypass; detail=${bypass}`)
      }
      return serve(request, ctx, next, route, routeCache(route, ctx.state))
    }

  /** A single byte range cut from a fresh, complete stored 200 (RFC 9110 §14.2, §15.3.7). */
  async function rangeFromStore(request: FastifyRequest, ctx: RequestContext, route: CompiledRoute): Promise<UpstreamResponse | undefined> {
    ensurePool(request, ctx, route)
    const url = urlKey({ protocol: ctx.protocol, host: request.headers.host, path: ctx.path, query: ctx.query })
    const header = upstreamHeader(request, ctx)
    const entry = await lookup(url, (vary) => entryKey(url, route.name, ctx.pool, vary, header), ctx)
    if (entry === undefined || entry.status !== 200 || evaluate(entry.freshness, requestDirectives(request.headers), now()) !== 'fresh') return undefined
    // Preconditions come before Range (RFC 9110 §13.2.2).
    if (clientNotModified(entry.headers, request.headers, entry.freshness.responseTime)) {
      count(ctx, route.name, 'hit')
      return fromEntry(entry, request, 'hit')
    }
    const r = singleRange(request.headers.range, entry.body.length)
    if (r === undefined) return undefined
    count(ctx, route.name, 'hit')
    const res = fromEntry(entry, request, 'hit')
    res.headers['content-range'] = `bytes ${r.start}-${r.end}/${entry.body.length}`
    res.headers['content-length'] = String(r.end - r.start + 1)
    return { statusCode: 206, headers: res.headers, body: entry.body.subarray(r.start, r.end + 1) }
  }

  /** §4.4: a non-error response to an unsafe method invalidates the stored responses of its URI. */
  async function invalidating(request: FastifyRequest, ctx: RequestContext, next: Forward): Promise<UpstreamResponse> {
    const res = await next(request, ctx)
    if (res.statusCode < 400) {
      const host = request.headers.host
      try {
        await store.deleteUrl(urlKey({ protocol: ctx.protocol, host, path: ctx.path, query: ctx.query }))
        // §4.4: also the URIs in Location and Content-Location, when they share our origin
        // (another origin's entries are not ours to drop: that would let one site purge another).
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

  async function serve(request: FastifyRequest, ctx: RequestContext, next: Forward, route: CompiledRoute, rc: RouteCache): Promise<UpstreamResponse> {
    ensurePool(request, ctx, route)
    const url = urlKey({ protocol: ctx.protocol, host: request.headers.host, path: ctx.path, query: ctx.query })
    const header = upstreamHeader(request, ctx)
    const keyFor = (vary: readonly string[]): string => entryKey(url, route.name, ctx.pool, vary, header)
    const req = requestDirectives(request.headers)

    const entry = await lookup(url, keyFor, ctx)
    if (entry !== undefined) {
      const verdict = evaluate(entry.freshness, req, now())
      if (verdict === 'fresh') {
        count(ctx, route.name, 'hit')
        return fromEntry(entry, request, 'hit')
      }
      if (verdict === 'stale-allowed') {
        count(ctx, route.name, 'hit')
        return fromEntry(entry, request, 'hit; detail=max-stale')
      }
      if (verdict === 'stale-while-revalidate') {
        count(ctx, route.name, 'stale-while-revalidate')
        refreshInBackground(entry, request, ctx, next, rc)
        return fromEntry(entry, request, 'hit; detail=stale-while-revalidate')
      }
      return revalidate(entry, request, ctx, next, route, rc, req, keyFor)
    }
    if (req.onlyIfCached) {
      // §5.2.1.7: nothing stored may answer; 504 without contacting the origin.
      count(ctx, route.name, 'only-if-cached')
      return { statusCode: 504, headers: jsonHeaders(`${MEMBER}; detail=only-if-cached`), body: Buffer.from(errorBody(504, 'not in cache (only-if-cached)')) }
    }

    // Miss: one upstream request per key; concurrent misses wait for it.
    const flightKey = keyFor([])
    const c = coalescer.join(flightKey, rc.coalesceMs)
    if (!c.leader) {
      const shared = await c.shared
      if (shared !== undefined && keyFor(shared.vary) === shared.key) {
        count(ctx, route.name, 'coalesced')
        return fromEntry(shared, request, 'fwd=miss; collapsed')
      }
      return fetchAndStore(request, ctx, next, route, rc, keyFor, 'miss', 'fwd=miss')
    }
    let shared: CacheEntry | undefined
    try {
      // The entry may have landed between our lookup and taking the lead.
      const again = await lookup(url, keyFor, ctx)
      if (again !== undefined && evaluate(again.freshness, req, now()) === 'fresh') {
        shared = again
        count(ctx, route.name, 'hit')
        return fromEntry(again, request, 'hit')
      }
      return await fetchAndStore(request, ctx, next, route, rc, keyFor, 'miss', 'fwd=miss', (e) => (shared = e))
    } finally {
      c.flight.settle(shared)
    }
  }

  /** Go upstream (GET even for HEAD, so the entry can serve both), store if allowed, answer. */
  async function fetchAndStore(
    request: FastifyRequest,
    ctx: RequestContext,
    next: Forward,
    route: CompiledRoute,
    rc: RouteCache,
    keyFor: (vary: readonly string[]) => string,
    result: CacheResult,
    fwd: string,
    onStored?: (e: CacheEntry) => void,
    extraHeaders?: Record<string, string>,
    previous?: CacheEntry,
  ): Promise<UpstreamResponse> {
    const head = request.method === 'HEAD'
    announceSurrogate(request, ctx)
    const opts: ForwardOptions | undefined = head || extraHeaders ? { method: 'GET', extraHeaders } : undefined
    const requestTime = now()
    let res: UpstreamResponse
    try {
      res = await next(request, ctx, opts)
    } catch (err) {
      // RFC 5861 "error": the gateway's own 502/503/504 (connect error, reset, timeout, every
      // backend and fallback down), never a client-side failure.
      const status = (err as { statusCode?: number }).statusCode
      if (previous !== undefined && (status === undefined || status >= 500) && mayServeStaleOnError(previous.freshness, now())) {
        count(ctx, route.name, 'stale-if-error')
        log.info({ reqId: ctx.id, route: route.name, err: (err as Error).message }, 'serving stale entry: upstream failed')
        return fromEntry(previous, request, 'fwd=stale; detail=stale-if-error')
      }
      count(ctx, route.name, 'miss')
      // The error response is written by the proxy from ctx.responseHeaders, where it copies them.
      ;(ctx.responseHeaders ??= {})['cache-status'] = `${MEMBER}; ${previous !== undefined ? 'fwd=stale' : 'fwd=miss'}; detail=upstream-error`
      throw err
    }
    const responseTime = now()
    if (previous !== undefined && res.statusCode >= 500 && mayServeStaleOnError(previous.freshness, responseTime)) {
      discard(res)
      count(ctx, route.name, 'stale-if-error')
      return fromEntry(previous, request, `fwd=stale; fwd-status=${res.statusCode}; detail=stale-if-error`)
    }
    if (previous !== undefined && res.statusCode === 304) {
      return applyNotModified(previous, res, request, ctx, next, route, rc, keyFor, requestTime, responseTime, fwd, onStored)
    }
    count(ctx, route.name, result)
    const status = previous !== undefined ? `${fwd}; fwd-status=${res.statusCode}` : fwd
    const decision = decideStore(
      { method: 'GET', requestHeaders: request.headers, status: res.statusCode, responseHeaders: res.headers, requestTime, responseTime },
      rc.rules,
    )
    if (!decision.store) {
      if (previous !== undefined) void safeDelete(previous.key, ctx)
      return withStatus(stripForClient(res, head), `${status}; detail=${decision.reason}`)
    }
    let collected
    try {
      collected = await collectUpTo(res.body, rc.rules.maxEntrySize)
    } catch (err) {
      log.warn({ reqId: ctx.id, err: (err as Error).message }, 'upstream body failed while caching')
      throw upstreamBodyError(err)
    }
    if (!collected.complete) {
      const out: UpstreamResponse = { ...res, body: head ? null : collected.stream }
      if (head) collected.stream.destroy()
      return withStatus(stripForClient(out, head), `${status}; detail=too-large`)
    }
    const entry: CacheEntry = {
      key: keyFor(decision.vary),
      urlKey: urlOfKey(keyFor),
      path: ctx.path,
      tags: decision.tags,
      vary: decision.vary,
      status: res.statusCode,
      headers: storedHeaders(res.headers),
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
    }
    if (outcome === 'stored') onStored?.(entry)
    const body = head ? null : collected.body
    const headers = { ...res.headers }
    for (const name of HIDDEN) delete headers[name]
    if (!head) headers['content-length'] = String(collected.body.length)
    return withStatus({ statusCode: res.statusCode, headers, body }, `${status}; ${outcome}`)
  }

  /** §4.3: validate a stale entry (or one the request wants validated) with the origin. */
  async function revalidate(
    entry: CacheEntry,
    request: FastifyRequest,
    ctx: RequestContext,
    next: Forward,
    route: CompiledRoute,
    rc: RouteCache,
    req: RequestDirectives,
    keyFor: (vary: readonly string[]) => string,
  ): Promise<UpstreamResponse> {
    const byClient = req.noCache || req.maxAge !== undefined || req.minFresh !== undefined
    const fwd = byClient ? 'fwd=request' : 'fwd=stale'
    const validators = hasValidator(entry.headers) ? validationHeaders(entry.headers) : undefined
    // A client that asked for validation gets its own; an entry that merely went stale is
    // validated once for all concurrent requests (no thundering herd on expiry).
    if (byClient) return fetchAndStore(request, ctx, next, route, rc, keyFor, 'updated', fwd, undefined, validators, entry)
    const c = coalescer.join(`stale\n${entry.key}`, rc.coalesceMs)
    if (!c.leader) {
      const shared = await c.shared
      if (shared !== undefined && shared.key === entry.key && evaluate(shared.freshness, req, now()) === 'fresh') {
        count(ctx, route.name, 'coalesced')
        return fromEntry(shared, request, 'fwd=stale; collapsed')
      }
      return fetchAndStore(request, ctx, next, route, rc, keyFor, 'updated', fwd, undefined, validators, entry)
    }
    let shared: CacheEntry | undefined
    try {
      return await fetchAndStore(request, ctx, next, route, rc, keyFor, 'updated', fwd, (e) => (shared = e), validators, entry)
    } finally {
      c.flight.settle(shared)
    }
  }

  async function applyNotModified(
    entry: CacheEntry,
    res: UpstreamResponse,
    request: FastifyRequest,
    ctx: RequestContext,
    next: Forward,
    route: CompiledRoute,
    rc: RouteCache,
    keyFor: (vary: readonly string[]) => string,
    requestTime: number,
    responseTime: number,
    fwd: string,
    onStored?: (e: CacheEntry) => void,
  ): Promise<UpstreamResponse> {
    discard(res)
    if (!notModifiedMatches(entry.headers, res.headers)) {
      // §4.3.4: the 304 selects no stored response: drop ours and fetch the full response.
      await safeDelete(entry.key, ctx)
      return fetchAndStore(request, ctx, next, route, rc, keyFor, 'miss', 'fwd=miss')
    }
    count(ctx, route.name, 'revalidated')
    const refreshed = refreshedEntry(entry, res, request.headers, rc, requestTime, responseTime)
    if (refreshed === undefined) {
      await safeDelete(entry.key, ctx)
      return fromEntry(entry, request, `${fwd}; fwd-status=304`, 0)
    }
    let stored = false
    try {
      stored = await store.set(refreshed.entry, refreshed.retainMs)
    } catch (err) {
      log.warn({ reqId: ctx.id, err: (err as Error).message }, 'cache store failed; refreshed entry not stored')
    }
    if (stored) onStored?.(refreshed.entry)
    return fromEntry(refreshed.entry, request, stored ? `${fwd}; fwd-status=304; stored` : `${fwd}; fwd-status=304`)
  }

  /** RFC 5861 §3: refresh a stale entry once, in the background, while it is being served. */
  function refreshInBackground(entry: CacheEntry, request: FastifyRequest, ctx: RequestContext, next: Forward, rc: RouteCache): void {
    if (refreshing.has(entry.key)) return
    refreshing.add(entry.key)
    const run = async (): Promise<void> => {
      announceSurrogate(request, ctx)
      const requestTime = now()
      const res = await next(request, ctx, { method: 'GET', noBody: true, extraHeaders: validationHeaders(entry.headers) })
      const responseTime = now()
      if (res.statusCode === 304) {
        discard(res)
        if (!notModifiedMatches(entry.headers, res.headers)) return void (await store.delete(entry.key))
        const r = refreshedEntry(entry, res, request.headers, rc, requestTime, responseTime)
        if (r === undefined) await store.delete(entry.key)
        else await store.set(r.entry, r.retainMs)
        return
      }
      if (res.statusCode >= 500) return discard(res)
      const decision = decideStore({ method: 'GET', requestHeaders: request.headers, status: res.statusCode, responseHeaders: res.headers, requestTime, responseTime }, rc.rules)
      if (!decision.store || decision.vary.join() !== entry.vary.join()) {
        discard(res)
        await store.delete(entry.key)
        return
      }
      const collected = await collectUpTo(res.body, rc.rules.maxEntrySize)
      if (!collected.complete) {
        collected.stream.resume()
        await store.delete(entry.key)
        return
      }
      await store.set(
        { ...entry, tags: decision.tags, status: res.statusCode, headers: storedHeaders(res.headers), body: collected.body, freshness: decision.freshness },
        decision.retainMs,
      )
    }
    run()
      .catch((err: unknown) => log.debug({ reqId: ctx.id, err: (err as Error).message }, 'background refresh failed'))
      .finally(() => refreshing.delete(entry.key))
  }

  function refreshedEntry(
    entry: CacheEntry,
    res: UpstreamResponse,
    requestHeaders: IncomingHttpHeaders,
    rc: RouteCache,
    requestTime: number,
    responseTime: number,
  ): { entry: CacheEntry; retainMs: number } | undefined {
    const headers = storedHeaders(updatedHeaders(entry.headers, res.headers) as IncomingHttpHeaders)
    // A 304 carries no body, so its Content-Length must not veto the stored one.
    const decision = decideStore(
      { method: 'GET', requestHeaders, status: entry.status, responseHeaders: { ...headers, 'content-length': String(entry.body.length) } as IncomingHttpHeaders, requestTime, responseTime },
      rc.rules,
    )
    if (!decision.store) return undefined
    return { entry: { ...entry, headers, tags: decision.tags, freshness: decision.freshness }, retainMs: decision.retainMs }
  }

  async function lookup(url: string, keyFor: (vary: readonly string[]) => string, ctx: RequestContext): Promise<CacheEntry | undefined> {
    try {
      return await store.lookup(url, keyFor)
    } catch (err) {
      log.warn({ reqId: ctx.id, err: (err as Error).message }, 'cache lookup failed; treating as a miss')
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

  /** A stored response as the client's answer: Age, Cache-Status, 304 for a matching conditional. */
  function fromEntry(entry: CacheEntry, request: FastifyRequest, status: string, ageMs?: number): UpstreamResponse {
    const age = String(Math.floor((ageMs ?? currentAge(entry.freshness, now())) / 1000))
    if (clientNotModified(entry.headers, request.headers, entry.freshness.responseTime)) {
      const h: IncomingHttpHeaders = {}
      for (const name of NOT_MODIFIED_FIELDS) {
        const v = entry.headers[name]
        if (v !== undefined) h[name] = v as string
      }
      h.age = age
      h['cache-status'] = appendStatus(undefined, status)
      return { statusCode: 304, headers: h, body: null }
    }
    const h = { ...(entry.headers as IncomingHttpHeaders) }
    for (const name of HIDDEN) delete h[name]
    h.age = age
    h['cache-status'] = appendStatus(h['cache-status'], status)
    const bodiless = entry.status === 204 || entry.status === 304
    if (!bodiless) h['content-length'] = String(entry.body.length)
    return { statusCode: entry.status, headers: h, body: request.method === 'HEAD' || bodiless ? null : entry.body }
  }

  return { middleware, refreshing }
}

/** A Location / Content-Location value resolved against the request, if it names our origin. */
function sameOriginTarget(value: string | string[] | undefined, protocol: 'http' | 'https', host: string | undefined, path: string): NormalizedTarget | undefined {
  if (typeof value !== 'string' || value === '' || !host) return undefined
  try {
    const base = new URL(`${protocol}://${host}${path}`)
    const u = new URL(value, base)
    if (u.origin !== base.origin) return undefined
    return normalizePath(u.pathname + u.search)
  } catch {
    return undefined // unparsable: nothing we could have stored under it
  }
}

/** Edge Architecture: tell the origin a surrogate is here, appending to a downstream one's. */
function announceSurrogate(request: FastifyRequest, ctx: RequestContext): void {
  if (ctx.upstreamHeaders?.['surrogate-capability'] !== undefined) return
  const theirs = request.headers['surrogate-capability']
  const value = theirs ? `${Array.isArray(theirs) ? theirs.join(', ') : theirs}, ${SURROGATE_CAPABILITY}` : SURROGATE_CAPABILITY
  ctx.upstreamHeaders = { ...ctx.upstreamHeaders, 'surrogate-capability': value }
}

/** The pool is part of the key, so choose it before the lookup (forward keeps a chosen pool). */
function ensurePool(request: FastifyRequest, ctx: RequestContext, route: CompiledRoute): void {
  if (ctx.pool !== undefined) return
  const decision = route.split.choose({ headers: request.headers, clientIp: ctx.clientIp, claims: ctx.claims, path: ctx.path, query: ctx.query })
  ctx.pool = decision.pool
  if (decision.setCookie !== undefined) appendSetCookie((ctx.responseHeaders ??= {}), decision.setCookie)
}

/** A request header as the upstream receives it: gateway-set values win; untrusted forwarding headers are dropped. */
function upstreamHeader(request: FastifyRequest, ctx: RequestContext): (name: string) => string | readonly string[] | undefined {
  const gw = ctx.upstreamHeaders
  const trusted = ctx.peerTrusted
  return (name) => {
    const g = gw?.[name]
    if (g !== undefined) return g
    if (!trusted && FORWARDING.has(name)) return undefined
    return request.headers[name]
  }
}

function urlOfKey(keyFor: (vary: readonly string[]) => string): string {
  const k = keyFor([])
  return k.slice(0, k.indexOf('\n'))
}

function storedHeaders(h: IncomingHttpHeaders): Record<string, string | readonly string[]> {
  const out: Record<string, string | readonly string[]> = {}
  for (const name in h) {
    const v = h[name]
    if (v !== undefined && !NOT_STORED.has(name)) out[name] = v
  }
  return out
}

function stripForClient(res: UpstreamResponse, head: boolean): UpstreamResponse {
  if (res.headers['cache-tag'] === undefined && res.headers['surrogate-control'] === undefined && !head) return res
  const headers = { ...res.headers }
  for (const name of HIDDEN) delete headers[name]
  if (head && res.body !== null && !Buffer.isBuffer(res.body)) res.body.resume()
  return { statusCode: res.statusCode, headers, body: head ? null : res.body }
}

/** RFC 9211 §2: a cache appends its member to any Cache-Status from caches nearer the origin. */
function appendStatus(existing: string | string[] | undefined, params: string): string {
  const mine = `${MEMBER}; ${params}`
  if (existing === undefined) return mine
  return `${Array.isArray(existing) ? existing.join(', ') : existing}, ${mine}`
}

function withStatus(res: UpstreamResponse, params: string): UpstreamResponse {
  res.headers['cache-status'] = appendStatus(res.headers['cache-status'], params)
  return res
}

function jsonHeaders(status: string): IncomingHttpHeaders {
  return { 'content-type': 'application/json; charset=utf-8', 'cache-status': status }
}

function discard(res: UpstreamResponse): void {
  if (res.body !== null && !Buffer.isBuffer(res.body)) res.body.resume()
}

function upstreamBodyError(err: unknown): Error {
  const e = new ERR_UPSTREAM_RESET()
  e.cause = err
  return e
}
