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
import { EventEmitter } from 'node:events'
import type { KeySource, PoolSettings } from '../config/model.js'
import { ERR_NO_BACKEND } from '../errors.js'
import type { GatewayMetrics } from '../metrics.js'
import type { RequestContext } from '../request-context.js'
import type { CompiledRoute } from '../routing/types.js'
import type { Backend, Lease, Pool } from '../upstream/types.js'
import { appendSetCookie, readCookie, serializeCookie } from '../net/cookies.js'
import { keyValueOf, type KeyInput } from '../routing/key-value.js'
import { chainSteps, leaseFor } from '../upstream/pool-chain.js'
import { endLeaseWhenDone, runAttempt } from './attempt.js'
import { decidePool } from './decision.js'
import type { IncomingHttpHeaders } from 'node:http'
import { clientOrigin, rewriteRedirects } from './redirect-rewrite.js'
import { buildUpstreamHeaders, compileHeaderPlan, filterResponseHeaders, type HeaderPlan } from './headers.js'
import type { ProxyRequest } from './request.js'
import { relayInterim } from './interim.js'
import { hasBody, NO_BODY, prepareBody, type RequestBody } from './request-body.js'
import type { Transport, TransportResponse } from './transport.js'
import type { Forward, ForwardOptions, UpstreamResponse } from './types.js'
import { gatewayErrorFor, type AttemptFailure } from './upstream-errors.js'
import { formatGrpcTimeout, grpcRetryCondition, isGrpc, parseGrpcTimeout, ReplayRecorder } from './grpc.js'
import { ERR_UPSTREAM_TIMEOUT } from '../errors.js'
import { REPLAY_BUFFER_LIMIT } from './request-body.js'

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

export function requestBodyOf(request: ProxyRequest, ctx: RequestContext): Promise<RequestBody> {
  const c = ctx as WithBody
  return (c[kBody] ??= prepareBody(request.raw, ctx.state.settings.server.bodyLimit))
}

/** What key sources (hashOn, sticky cookies, rate-limit keys) read from this request. */
export function keyInputOf(request: ProxyRequest, ctx: RequestContext): KeyInput {
  return { clientIp: ctx.clientIp, headers: request.headers, claims: ctx.claims, path: ctx.path, query: ctx.query, route: ctx.route?.name }
}

/** A key source's value for this request (see src/routing/key-value.ts). */
export function keyValue(source: KeySource, request: ProxyRequest, ctx: RequestContext): string | undefined {
  return keyValueOf(source, keyInputOf(request, ctx))
}

function mayRetry(f: AttemptFailure | { kind: 'status'; status: number } | { kind: 'grpc' }, retry: PoolSettings['retry'], idempotent: boolean, replayable: boolean): boolean {
  if (f.kind === 'cancel' || f.kind === 'client-body') return false
  if (f.kind === 'connect-error') return retry.on.includes('connect-error')
  // A gRPC status the pool lists (already checked when the answer was held): any method,
  // since the operator marked it safe (gRPC calls are all POST), as long as the body replays.
  if (f.kind === 'grpc') return replayable
  if (!idempotent || !replayable) return false
  if (f.kind === 'status') return retry.on.includes((f as { status: number }).status)
  return retry.on.includes(f.kind)
}

/** Drops a held-back answer: its body may emit AbortError on destroy, which nobody awaits here. */
function discard(res: TransportResponse): void {
  res.body.on('error', () => {}).destroy()
}

export interface ForwardDeps {
  readonly metrics: GatewayMetrics
  /** How attempts reach backends (HTTP/1.1 over undici in production; a stub in unit tests). */
  readonly transport: Transport
}

interface HeldResponse {
  readonly res: TransportResponse
  readonly backend: Backend
  readonly pool: Pool
  readonly ms: number
  /** Held for a retryable gRPC status (Trailers-Only), not an HTTP status. */
  readonly grpc?: boolean
}

export function createForward(deps: ForwardDeps): Forward {
  const { metrics, transport } = deps
  // Label children per pool: prom-client hashes a label object on every observe otherwise.
  const durationByPool = new Map<string, { observe(v: number): void }>()
  const observeUpstream = (pool: string, seconds: number): void => {
    let child = durationByPool.get(pool)
    if (child === undefined) durationByPool.set(pool, (child = metrics.upstreamDuration.labels(pool)))
    child.observe(seconds)
  }

  return async function forward(request: ProxyRequest, ctx: RequestContext, options?: ForwardOptions): Promise<UpstreamResponse> {
    const route = ctx.route!
    const plan = routePlan(route)
    const pools = ctx.state.pools
    const method = options?.method ?? request.method
    const idempotent = IDEMPOTENT.has(method)
    // Most requests carry no body: no promise to wait for then.
    const body = options?.noBody || !hasBody(request.raw) ? NO_BODY : await requestBodyOf(request, ctx)
    let replayable = body.kind !== 'stream'
    // gRPC (docs/protocols.md): a streamed body recorded while small enough to resend, and the
    // call's deadline (grpc-timeout) as an absolute time, capped per pool by its response timeout.
    const grpc = isGrpc(request.headers['content-type'])
    let recorder: ReplayRecorder | undefined
    let grpcTimeout: number | undefined
    let startedAt = 0
    if (grpc) {
      if (body.kind === 'stream') recorder = new ReplayRecorder(body.stream, REPLAY_BUFFER_LIMIT)
      grpcTimeout = parseGrpcTimeout(request.headers['grpc-timeout'])
      startedAt = performance.now()
    }

    // Decided by the pipeline before the chain; here only for callers that skip it (unit tests).
    decidePool(request, ctx)
    const keys = keyInputOf(request, ctx)

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
    // passHost: the client's Host goes upstream (its validity was checked on entry).
    if (route.settings.passHost === true && request.headers.host !== undefined) headers.host = request.headers.host
    if (body.kind === 'buffer') headers['content-length'] = String(body.data.length)
    else if (body.kind === 'stream' && request.headers['content-length'] !== undefined) headers['content-length'] = request.headers['content-length']
    const path = ctx.query === '' ? ctx.upstreamPath : `${ctx.upstreamPath}?${ctx.query}`

    // Abort the upstream exchange when the client goes away.
    // An EventEmitter, which undici accepts as a signal: an AbortController per request and its
    // EventTarget listeners cost measurably more, and abort is the rare case.
    const abort = new EventEmitter()
    let clientGone = false
    const onClose = (): void => {
      clientGone = true
      abort.emit('abort')
    }
    // An HTTP/2 request ends with its stream (the client's RST_STREAM cancels one call), not
    // with the connection other streams share; one listener per stream, none on the socket.
    const closer: EventEmitter = (request.raw as { stream?: EventEmitter }).stream ?? request.raw.socket
    closer.once('close', onClose)

    let lastFailure: AttemptFailure | undefined
    let grpcDeadline: number | undefined
    let held: HeldResponse | undefined
    let previousPool: string | undefined
    let attempted = false
    const gone = (): boolean => clientGone
    // The retry budget counts requests and retries in flight per pool (retry-budget.ts): the
    // pool this request is trying now, and the retries it was granted there, until it leaves.
    let budgetPool: Pool | undefined
    let budgetRetries = 0
    const leaveBudget = (): void => {
      if (budgetPool === undefined) return
      budgetPool.endRequest()
      if (budgetRetries > 0) budgetPool.releaseRetries(budgetRetries)
      budgetPool = undefined
      budgetRetries = 0
    }
    const timeouts = (pool: Pool) => pool.settings.timeouts.response
    // 1xx from the upstream go to the client that waits for this exchange (RFC 9110 §15.2);
    // the gateway's own background requests drop them.
    const sink = ctx.interim
    const purpose = options?.purpose ?? 'client'
    const onInfo = sink !== undefined && (purpose === 'client' || purpose === 'fill') ? (info: { statusCode: number; headers: Record<string, string | string[]> }) => relayInterim(sink, info.statusCode, info.headers) : undefined

    try {
      outer: for (const step of chainSteps(pools, ctx.pool, keys, () => attempted)) {
        const pool = step.pool
        if (step.lastResort) {
          ctx.lastResort = true
          metrics.poolPanic.inc({ pool: pool.name })
        } else if (previousPool !== undefined) {
          ctx.fallbackUsed = true
          metrics.fallbacks.inc({ route: route.name, from: previousPool, to: pool.name })
        }
        const retry = pool.settings.retry
        const maxAttempts = 1 + retry.attempts
        let attemptsHere = 0
        for (const backend of step.candidates) {
          if (attemptsHere >= maxAttempts) break
          if (attempted) {
            if (recorder !== undefined) {
              // A gRPC body still streaming (or too big) cannot be sent again, whatever failed.
              replayable = recorder.replay() !== null
              if (!replayable) break outer
            }
            const f = held !== undefined ? (held.grpc ? { kind: 'grpc' as const } : { kind: 'status' as const, status: held.res.statusCode }) : lastFailure!
            if (!mayRetry(f, retry, idempotent, replayable)) break outer
            if (attemptsHere > 0) {
              if (!pool.tryRetry()) break
              budgetRetries++
              metrics.retries.inc({ pool: pool.name })
            }
          }
          if (budgetPool !== pool) {
            leaveBudget()
            pool.recordRequest()
            budgetPool = pool
          }
          const lease = leaseFor(step, backend)
          if (lease === null) continue
          attempted = true
          attemptsHere++
          ctx.attempts++
          ctx.backend = backend.origin
          ctx.servedByPool = pool.name
          let responseTimeout = timeouts(pool)
          let sendBody: Buffer | import('node:stream').Readable | null = body.kind === 'buffer' ? body.data : body.kind === 'stream' ? body.stream : null
          let deadlineAt: number | undefined
          if (grpc) {
            if (recorder !== undefined) sendBody = ctx.attempts > 1 ? recorder.replay() : recorder.stream
            if (grpcTimeout !== undefined) {
              // The client's deadline, capped by this pool's response timeout (the route's).
              const remaining = Math.min(grpcTimeout, responseTimeout) - (performance.now() - startedAt)
              if (remaining <= 0) {
                lease.end('cancel', 0)
                throw new ERR_UPSTREAM_TIMEOUT()
              }
              headers['grpc-timeout'] = formatGrpcTimeout(remaining)
              responseTimeout = Math.ceil(remaining)
              deadlineAt = Date.now() + remaining
            }
          }
          const result = await runAttempt(
            transport,
            lease,
            grpc
              ? { method, path, headers, body: sendBody, signal: abort, responseTimeout, bodyTimeout: 0, trailers: true, onInfo }
              : { method, path, headers, body: sendBody, signal: abort, responseTimeout, onInfo },
            gone,
          )
          if (!result.ok) {
            const f = result.failure
            if (f.kind === 'cancel' || f.kind === 'client-body') throw f.kind === 'client-body' ? f.error : gatewayErrorFor(f)
            metrics.upstreamErrors.inc({ pool: pool.name, kind: 'tls' in f && f.tls ? 'tls' : f.kind })
            // A held status-failed answer, if any, stays the best we have.
            lastFailure = f
            continue
          }
          const { response: res, ms } = result
          ctx.upstreamMs = ms
          observeUpstream(pool.name, ms / 1000)
          const status = res.statusCode
          if (grpc) {
            grpcDeadline = deadlineAt
            if (status === 200 && grpcRetryCondition(res.headers, retry.on) !== undefined) {
              // A Trailers-Only failure the pool retries: held back like a retryable 5xx.
              metrics.upstreamErrors.inc({ pool: pool.name, kind: 'status' })
              lease.end('failure', ms, 'status')
              if (held !== undefined) discard(held.res)
              held = { res, backend, pool, ms, grpc: true }
              lastFailure = undefined
              continue
            }
          }
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
      }

      if (held !== undefined) {
        ctx.backend = held.backend.origin
        ctx.servedByPool = held.pool.name
        return finish(held.res, 'done', undefined, held.ms, held.pool, held.backend)
      }
      // A failed last resort is still "nothing available" (SPEC §5: tried anyway, before 503).
      if (lastFailure !== undefined && ctx.lastResort !== true) throw gatewayErrorFor(lastFailure)
      const e = new ERR_NO_BACKEND(ctx.pool)
      if (lastFailure !== undefined) e.cause = lastFailure.error
      throw e
    } finally {
      leaveBudget()
      closer.off('close', onClose)
    }

    function finish(res: TransportResponse, outcome: 'success' | 'failure' | 'done', lease: Lease | undefined, ms: number, pool: Pool, backend: Backend): UpstreamResponse {
      const headersOut = filterResponseHeaders(plan.headers, res.headers) as UpstreamResponse['headers']
      // A redirect naming the backend's own origin is pointed at the client-facing one.
      if (headersOut.location !== undefined || headersOut.refresh !== undefined) {
        rewriteRedirects(headersOut as IncomingHttpHeaders, backend.url, clientOrigin(ctx.protocol, request.headers.host))
      }
      const sticky = pool.settings.stickySession
      if (sticky !== undefined && readCookie(request.headers.cookie, sticky.cookie) !== backend.stickyToken) {
        appendSetCookie((ctx.responseHeaders ??= {}), serializeCookie(sticky.cookie, backend.stickyToken, sticky.ttl, ctx.protocol === 'https'))
      }
      // The lease (in-flight count) lasts until the body is done; the breaker outcome is the status.
      // A body that breaks midway is an upstream failure too: the breaker hears of it, and so does the error metric.
      if (lease !== undefined) endLeaseWhenDone(lease, res.body, outcome === 'failure' ? 'failure' : 'success', ms, gone, (kind) => metrics.upstreamErrors.inc({ pool: pool.name, kind }))
      const noBody = method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304
      if (noBody) res.body.resume()
      if (grpc) return { statusCode: res.statusCode, headers: headersOut, body: noBody ? null : res.body, grpc: { trailers: res.trailers === true, ...(grpcDeadline !== undefined && { deadlineAt: grpcDeadline }) } }
      return { statusCode: res.statusCode, headers: headersOut, body: noBody ? null : res.body }
    }
  }
}
