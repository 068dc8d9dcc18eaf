/**
 * The core of the proxy: from a routed request to an upstream response.
 *
 * The split picks a pool; the pool's balancer yields candidates; each attempt takes a lease
 * (in-flight count + breaker permit); failures are classified once; retries go to a different
 * backend only when safe (connect errors for any method — nothing reached the upstream —
 * resets, timeouts and listed statuses only for idempotent methods with a replayable body) and
 * within the pool's retry budget. When a pool has no available backend, or every try on it
 * failed, the request degrades to the pool's fallback, and that pool's fallback in turn.
 */
import { finished } from 'node:stream'
import type { FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import type { KeySource, PoolSettings } from '../config/model.js'
import { ERR_NO_BACKEND } from '../errors.js'
import type { GatewayMetrics } from '../metrics.js'
import type { RequestContext } from '../request-context.js'
import type { CompiledRoute } from '../routing/types.js'
import type { Backend, FailureKind, Lease, Pool, SelectionContext } from '../upstream/types.js'
import { appendSetCookie, readCookie, serializeCookie } from '../net/cookies.js'
import { keyValueOf } from '../routing/key-value.js'
import { buildUpstreamHeaders, compileHeaderPlan, filterResponseHeaders, type HeaderPlan } from './headers.js'
import { NO_BODY, prepareBody, type RequestBody } from './request-body.js'
import type { Forward, ForwardOptions, UpstreamResponse } from './types.js'
import { classifyAttemptError, gatewayErrorFor, type AttemptFailure } from './upstream-errors.js'

/** RFC 9110 §9.2.2. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE', 'QUERY'])

/** What the proxy precomputes per compiled route (kept in a WeakMap so reloads drop it). */
export interface RoutePlan {
  readonly headers: HeaderPlan
}

const plans = new WeakMap<CompiledRoute, RoutePlan>()

export function routePlan(route: CompiledRoute): RoutePlan {
  let plan = plans.get(route)
  if (plan === undefined) {
    const s = route.settings
    const extra: string[] = []
    if (s.override) extra.push(s.override)
    if (s.jwt) extra.push(...Object.values(s.jwt.forwardClaims))
    plan = { headers: compileHeaderPlan(s.headers, extra) }
    plans.set(route, plan)
  }
  return plan
}

/** Where ctx keeps the body prepared for this request (retries, mirrors and cache reuse it). */
export const kBody = Symbol('switchyard.body')
type WithBody = RequestContext & { [kBody]?: Promise<RequestBody> }

export function requestBodyOf(request: FastifyRequest, ctx: RequestContext): Promise<RequestBody> {
  const c = ctx as WithBody
  return (c[kBody] ??= prepareBody(request.raw, ctx.state.settings.server.bodyLimit))
}

/** A key source's value for this request (see src/routing/key-value.ts). */
export function keyValue(source: KeySource, request: FastifyRequest, ctx: RequestContext): string | undefined {
  return keyValueOf(source, { clientIp: ctx.clientIp, headers: request.headers, claims: ctx.claims, path: ctx.path, query: ctx.query, route: ctx.route?.name })
}

function selectionContext(pool: Pool, request: FastifyRequest, ctx: RequestContext): SelectionContext {
  const needsKey = pool.algorithm === 'consistent-hash'
  return { clientIp: ctx.clientIp, hashKey: needsKey ? keyValue(pool.settings.hashOn, request, ctx) : undefined }
}

function mayRetry(f: AttemptFailure | { kind: 'status'; status: number }, retry: PoolSettings['retry'], idempotent: boolean, replayable: boolean): boolean {
  if (f.kind === 'cancel' || f.kind === 'client-body') return false
  if (f.kind === 'connect-error') return retry.on.includes('connect-error')
  if (!idempotent || !replayable) return false
  if (f.kind === 'status') return retry.on.includes((f as { status: number }).status)
  return retry.on.includes(f.kind)
}

/** Sticky session first (if the cookie names an available backend), then the balancer's order. */
function candidatesFor(pool: Pool, request: FastifyRequest, ctx: RequestContext): Iterable<Backend> {
  const sticky = pool.settings.stickySession
  if (sticky === undefined) return pool.candidates(selectionContext(pool, request, ctx))
  const token = readCookie(request.headers.cookie, sticky.cookie)
  const pinned = token === undefined ? undefined : pool.backendForToken(token)
  if (pinned === undefined) return pool.candidates(selectionContext(pool, request, ctx))
  return pinnedFirst(pinned, pool.candidates(selectionContext(pool, request, ctx)))
}

function* pinnedFirst(pinned: Backend, rest: Iterable<Backend>): Generator<Backend> {
  yield pinned
  for (const b of rest) if (b !== pinned) yield b
}

/** Drops a held-back answer: undici's body emits AbortError on destroy, which nobody awaits here. */
function discard(res: Dispatcher.ResponseData): void {
  res.body.on('error', () => {}).destroy()
}

export interface ForwardDeps {
  readonly metrics: GatewayMetrics
}

interface HeldResponse {
  readonly res: Dispatcher.ResponseData
  readonly backend: Backend
  readonly pool: Pool
  readonly ms: number
}

export function createForward(deps: ForwardDeps): Forward {
  const { metrics } = deps
  // Label children per pool: prom-client hashes a label object on every observe otherwise.
  const durationByPool = new Map<string, { observe(v: number): void }>()
  const observeUpstream = (pool: string, seconds: number): void => {
    let child = durationByPool.get(pool)
    if (child === undefined) durationByPool.set(pool, (child = metrics.upstreamDuration.labels(pool)))
    child.observe(seconds)
  }

  return async function forward(request: FastifyRequest, ctx: RequestContext, options?: ForwardOptions): Promise<UpstreamResponse> {
    const route = ctx.route!
    const plan = routePlan(route)
    const pools = ctx.state.pools
    const method = options?.method ?? request.method
    const idempotent = IDEMPOTENT.has(method)
    const body = options?.noBody ? NO_BODY : await requestBodyOf(request, ctx)
    const replayable = body.kind !== 'stream'

    // Pool choice (once per request; the cache may call forward again for revalidation).
    if (ctx.pool === undefined) {
      const decision = route.split.choose({ headers: request.headers, clientIp: ctx.clientIp, claims: ctx.claims, path: ctx.path, query: ctx.query })
      ctx.pool = decision.pool
      if (decision.setCookie !== undefined) appendSetCookie((ctx.responseHeaders ??= {}), decision.setCookie)
    }

    const headers = buildUpstreamHeaders(plan.headers, {
      clientHeaders: request.headers,
      peerTrusted: ctx.peerTrusted,
      peerAddress: request.raw.socket.remoteAddress ?? ctx.clientIp,
      protocol: ctx.protocol,
      requestId: ctx.id,
      gatewayHeaders: ctx.upstreamHeaders,
      extra: options?.extraHeaders,
      drop: options?.dropHeaders,
    })
    if (body.kind === 'buffer') headers['content-length'] = String(body.data.length)
    else if (body.kind === 'stream' && request.headers['content-length'] !== undefined) headers['content-length'] = request.headers['content-length']
    const path = ctx.query === '' ? ctx.upstreamPath : `${ctx.upstreamPath}?${ctx.query}`

    // Abort the upstream exchange when the client goes away.
    const abort = new AbortController()
    let clientGone = false
    const onClose = (): void => {
      clientGone = true
      abort.abort()
    }
    request.raw.socket.once('close', onClose)

    let lastFailure: AttemptFailure | undefined
    let held: HeldResponse | undefined
    let poolName: string | undefined = ctx.pool
    let previousPool: string | undefined
    // Pools already tried; allocated only when a request degrades to a fallback.
    let visited: string[] | undefined
    let attempted = false

    try {
      outer: while (poolName !== undefined && !(visited !== undefined && visited.includes(poolName))) {
        const pool = pools.get(poolName)
        if (pool === undefined) break
        if (previousPool !== undefined) {
          ctx.fallbackUsed = true
          metrics.fallbacks.inc({ route: route.name, from: previousPool, to: pool.name })
        }
        const retry = pool.settings.retry
        const maxAttempts = 1 + retry.attempts
        let attemptsHere = 0
        for (const backend of candidatesFor(pool, request, ctx)) {
          if (attemptsHere >= maxAttempts) break
          if (attempted) {
            const f = held !== undefined ? { kind: 'status' as const, status: held.res.statusCode } : lastFailure!
            if (!mayRetry(f, retry, idempotent, replayable)) break outer
            if (attemptsHere > 0) {
              if (!pool.tryRetry()) break
              metrics.retries.inc({ pool: pool.name })
            }
          } else pool.recordRequest()
          const lease = pool.acquire(backend)
          if (lease === null) continue
          attempted = true
          attemptsHere++
          ctx.attempts++
          ctx.backend = backend.origin
          ctx.servedByPool = pool.name
          const started = performance.now()
          let res: Dispatcher.ResponseData
          try {
            res = await backend.dispatcher.request({
              origin: backend.origin,
              path,
              method: method as Dispatcher.HttpMethod,
              headers,
              body: body.kind === 'buffer' ? body.data : body.kind === 'stream' ? body.stream : null,
              signal: abort.signal,
              headersTimeout: pool.settings.timeouts.response,
              bodyTimeout: pool.settings.timeouts.response,
            })
          } catch (err) {
            const ms = performance.now() - started
            const f = classifyAttemptError(err, clientGone)
            if (f.kind === 'cancel' || f.kind === 'client-body') {
              lease.end('cancel', ms)
              throw f.kind === 'client-body' ? f.error : gatewayErrorFor(f)
            }
            lease.end('failure', ms, f.kind)
            metrics.upstreamErrors.inc({ pool: pool.name, kind: 'tls' in f && f.tls ? 'tls' : f.kind })
            // A held status-failed answer, if any, stays the best we have.
            lastFailure = f
            continue
          }
          const ms = performance.now() - started
          ctx.upstreamMs = ms
          observeUpstream(pool.name, ms / 1000)
          const status = res.statusCode
          if (status >= 500) {
            metrics.upstreamErrors.inc({ pool: pool.name, kind: 'status' })
            if (retry.on.includes(status) && idempotent && replayable) {
              // Hold it back: another backend may do better; if none can, this is the answer.
              lease.end('failure', ms, 'status')
              if (held !== undefined) discard(held.res)
              held = { res, backend, pool, ms }
              lastFailure = undefined
              continue
            }
          }
          if (held !== undefined) {
            discard(held.res)
            held = undefined
          }
          return finish(res, status >= 500 ? 'failure' : 'success', lease, ms, pool, backend)
        }
        previousPool = pool.name
        ;(visited ??= []).push(pool.name)
        poolName = pool.fallback
      }

      if (held !== undefined) {
        ctx.backend = held.backend.origin
        ctx.servedByPool = held.pool.name
        return finish(held.res, 'done', undefined, held.ms, held.pool, held.backend)
      }
      if (lastFailure !== undefined) throw gatewayErrorFor(lastFailure)
      throw new ERR_NO_BACKEND(ctx.pool)
    } finally {
      request.raw.socket.off('close', onClose)
    }

    function finish(res: Dispatcher.ResponseData, outcome: 'success' | 'failure' | 'done', lease: Lease | undefined, ms: number, pool: Pool, backend: Backend): UpstreamResponse {
      const headersOut = filterResponseHeaders(plan.headers, res.headers) as UpstreamResponse['headers']
      const sticky = pool.settings.stickySession
      if (sticky !== undefined && readCookie(request.headers.cookie, sticky.cookie) !== backend.stickyToken) {
        appendSetCookie((ctx.responseHeaders ??= {}), serializeCookie(sticky.cookie, backend.stickyToken, sticky.ttl, ctx.protocol === 'https'))
      }
      if (lease !== undefined) {
        // The lease (in-flight count) lasts until the body is done; the breaker outcome is the status.
        finished(res.body, (err) => {
          if (err && outcome === 'success') {
            const f = classifyAttemptError(err, clientGone)
            lease.end(f.kind === 'cancel' ? 'cancel' : 'failure', ms, f.kind === 'cancel' || f.kind === 'client-body' ? undefined : (f.kind as FailureKind))
          } else lease.end(outcome === 'done' ? 'success' : outcome, ms, outcome === 'failure' ? 'status' : undefined)
        })
      }
      const noBody = method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304
      if (noBody) res.body.resume()
      return { statusCode: res.statusCode, headers: headersOut, body: noBody ? null : res.body }
    }
  }
}
