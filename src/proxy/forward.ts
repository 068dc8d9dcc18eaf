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
import type { KeySource } from '../config/model.js'
import { ERR_CLIENT_CLOSED, ERR_NO_BACKEND, ERR_UPSTREAM_TIMEOUT } from '../errors.js'
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
import { backoffDelay, failureRetryable, retryPlan, statusRetryable, type RetryPlan } from './retry-policy.js'
import { hasBody, NO_BODY, prepareBody, type RequestBody } from './request-body.js'
import type { Transport, TransportResponse } from './transport.js'
import type { Forward, ForwardOptions, UpstreamResponse } from './types.js'
import { gatewayErrorFor, type AttemptFailure } from './upstream-errors.js'
import { formatGrpcTimeout, grpcRetryCondition, isGrpc, parseGrpcTimeout, ReplayRecorder } from './grpc.js'
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
    // The secrets of API-key and basic auth stay at the gateway.
    if (s.apiKey) extra.push(s.apiKey.header)
    if (s.basicAuth) extra.push('authorization')
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
  return (c[kBody] ??= prepareBody(request.raw, ctx.route?.settings.bodyLimit ?? ctx.state.settings.server.bodyLimit))
}

/** What key sources (hashOn, sticky cookies, rate-limit keys) read from this request. */
export function keyInputOf(request: ProxyRequest, ctx: RequestContext): KeyInput {
  return { clientIp: ctx.clientIp, headers: request.headers, claims: ctx.claims, path: ctx.path, query: ctx.query, route: ctx.route?.name }
}

/** A key source's value for this request (see src/routing/key-value.ts). */
export function keyValue(source: KeySource, request: ProxyRequest, ctx: RequestContext): string | undefined {
  return keyValueOf(source, keyInputOf(request, ctx))
}

/**
 * May the request go to another backend after `f` (undefined: the latest try answered with a
 * held, retryable status)? A connect error means nothing reached the backend: any method may
 * go elsewhere. Anything else may have reached it: only idempotent methods (RFC 9110 §9.2.2)
 * with a body we still hold are re-sent, never a POST whose bytes may have been processed.
 */
function mayRetry(f: AttemptFailure | undefined, plan: RetryPlan, idempotent: boolean, replayable: boolean): boolean {
  if (f === undefined) return true
  if (f.kind === 'cancel' || f.kind === 'client-body') return false
  if (f.kind === 'connect-error') return plan.connectError
  if (!idempotent || !replayable) return false
  return failureRetryable(plan, f.kind)
}

/** Drops a held-back answer: its body may emit AbortError on destroy, which nobody awaits here. */
function discard(res: TransportResponse): void {
  res.body.on('error', () => {}).destroy()
}

export interface ForwardDeps {
  readonly metrics: GatewayMetrics
  /** How attempts reach backends (HTTP/1.1 over undici in production; a stub in unit tests). */
  readonly transport: Transport
  /** [0, 1) for the backoff jitter; Math.random unless a test injects one. */
  readonly random?: () => number
  /** Waits `ms` between tries; a timer unless a test injects one. */
  readonly sleep?: (ms: number) => Promise<void>
  /**
   * Emits 'close' when the gateway shuts down: the gateway's background requests (a stale
   * entry's refresh, a shadow copy) are bound to it instead of to the client that caused them.
   */
  readonly shutdown?: EventEmitter
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

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
  const random = deps.random ?? Math.random
  const sleep = deps.sleep ?? realSleep
  // Label children per pool: prom-client hashes a label object on every observe otherwise.
  // Keyed by the pool object, so a pool removed by a reload takes its child with it.
  const durationByPool = new WeakMap<Pool, { observe(v: number): void }>()
  const observeUpstream = (pool: Pool, seconds: number): void => {
    let child = durationByPool.get(pool)
    if (child === undefined) durationByPool.set(pool, (child = metrics.upstreamDuration.labels(pool.name)))
    child.observe(seconds)
  }

  return async function forward(request: ProxyRequest, ctx: RequestContext, options?: ForwardOptions): Promise<UpstreamResponse> {
    const route = ctx.route!
    const plan = routePlan(route)
    const pools = ctx.state.pools
    const method = options?.method ?? request.method
    // A request carrying an Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) asks
    // the server to deduplicate it: re-sending it is as safe as re-sending a PUT.
    const idempotent = IDEMPOTENT.has(method) || request.headers['idempotency-key'] !== undefined
    // The gateway's own background requests (a stale entry's refresh, a shadow copy) outlive
    // the client that caused them: they end with the gateway, not with its connection.
    const background = options?.purpose === 'revalidate' || options?.purpose === 'shadow'
    const closer: EventEmitter | undefined = background ? deps.shutdown : ((request.raw as { stream?: EventEmitter }).stream ?? request.raw.socket)
    // Gone already (while a stage waited): its 'close' has been emitted and will not come again.
    if ((closer as { destroyed?: boolean } | undefined)?.destroyed === true) throw new ERR_CLIENT_CLOSED()
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
    // With a per-try timeout, each try has its own signal (aborting one try must not abort a
    // held answer from an earlier one); the client leaving or the deadline aborts the current.
    let trySignal: EventEmitter | undefined
    let clientGone = false
    const onClose = (): void => {
      clientGone = true
      abort.emit('abort')
      trySignal?.emit('abort')
    }
    closer?.once('close', onClose)
    // An HTTP/2 request ends with its stream (the client's RST_STREAM cancels one call), not
    // with the connection other streams share; one listener per stream, none on the socket.

    // The route's total deadline (timeouts.total of the pool the decision chose): the wait for a
    // connection, every try and every backoff fit in it, or the answer is 504 (Envoy's route
    // timeout). One timer per request, cleared when a response head is returned.
    const total = (ctx.pool !== undefined ? pools.get(ctx.pool)?.settings.timeouts.total : undefined) ?? 0
    let deadlineHit = false
    let tryTimedOut = false
    const totalDeadlineAt = total > 0 ? performance.now() + total : Infinity
    const deadline =
      total > 0
        ? setTimeout(() => {
            deadlineHit = true
            abort.emit('abort')
            trySignal?.emit('abort')
          }, total)
        : undefined
    const timedOut = (): boolean => deadlineHit || tryTimedOut

    let lastFailure: AttemptFailure | undefined
    /** The latest try's failure; undefined when it answered with a held (retryable) status. */
    let latest: AttemptFailure | undefined
    let grpcDeadline: number | undefined
    let held: HeldResponse | undefined
    let previousPool: string | undefined
    let attempted = false
    let retriesDone = 0
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
    // A route's own `timeouts.response` overrides its pools'.
    const routeResponseTimeout = route.settings.timeouts?.response
    const timeouts = (pool: Pool) => routeResponseTimeout ?? pool.settings.timeouts.response
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
        // A route's own `retry` replaces its pools'.
        const retry = route.settings.retry ?? pool.settings.retry
        const plan = retryPlan(retry)
        const maxAttempts = 1 + retry.attempts
        // Requests that may wait for a connection beyond the transport's connections.
        const maxPending = pool.settings.maxPending
        const queueTimeout = pool.settings.queueTimeout ?? 0
        let attemptsHere = 0
        for (const backend of step.candidates) {
          if (attemptsHere >= maxAttempts || deadlineHit) break
          // A full queue (maxPending): nothing is sent, so another backend may take it at once.
          const connections = transport.connectionsFor?.(backend)
          if (connections !== undefined && maxPending !== undefined && backend.activeRequests - backend.tunnels >= connections + maxPending) {
            metrics.upstreamErrors.inc({ pool: pool.name, kind: 'overflow' })
            continue
          }
          if (attempted) {
            if (recorder !== undefined) {
              // A gRPC body still streaming (or too big) cannot be sent again, whatever failed.
              replayable = recorder.replay() !== null
              if (!replayable) break outer
            }
            if (!mayRetry(latest, plan, idempotent, replayable)) break outer
            if (attemptsHere > 0) {
              if (!pool.tryRetry()) break
              budgetRetries++
              metrics.retries.inc({ pool: pool.name })
              const wait = backoffDelay(plan, ++retriesDone, random)
              if (wait > 0) {
                // A retry that cannot start before the deadline is not made: the answer so far stands.
                if (performance.now() + wait >= totalDeadlineAt) break outer
                await sleep(wait)
                if (clientGone) throw new ERR_CLIENT_CLOSED()
                if (deadlineHit) break outer
              }
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
          let signal = abort
          let tryTimer: ReturnType<typeof setTimeout> | undefined
          let queueTimer: ReturnType<typeof setTimeout> | undefined
          // Requests ahead of this one waiting for a connection (the transport queues FIFO).
          const ahead = connections === undefined ? 0 : backend.activeRequests - backend.tunnels - connections
          if (plan.perTryTimeout > 0 || (ahead > 0 && queueTimeout > 0)) {
            const mine = (signal = trySignal = new EventEmitter())
            tryTimedOut = false
            if (plan.perTryTimeout > 0) {
              tryTimer = setTimeout(() => {
                tryTimedOut = true
                mine.emit('abort')
              }, plan.perTryTimeout)
            }
            if (ahead > 0 && queueTimeout > 0) {
              // queueTimeout (HAProxy's `timeout queue`): still waiting for a connection after it,
              // i.e. fewer than `ahead` attempts on this backend ended meanwhile: give up the try.
              const startsAfter = backend.settledRequests + ahead
              queueTimer = setTimeout(() => {
                if (backend.settledRequests >= startsAfter) return
                tryTimedOut = true
                mine.emit('abort')
              }, queueTimeout)
            }
          }
          // A recorded request (tracing.otlp): the attempt's span id goes upstream as the parent.
          const span = ctx.span?.beginAttempt(pool.name, backend.origin, headers)
          const result = await runAttempt(
            transport,
            lease,
            grpc
              ? { method, path, headers, body: sendBody, signal, responseTimeout, bodyTimeout: 0, trailers: true, onInfo }
              : { method, path, headers, body: sendBody, signal, responseTimeout, onInfo },
            gone,
            timedOut,
          )
          if (tryTimer !== undefined) clearTimeout(tryTimer)
          if (queueTimer !== undefined) clearTimeout(queueTimer)
          if (span !== undefined) ctx.span!.endAttempt(span, result.ok ? result.response.statusCode : undefined, result.ok ? undefined : result.failure.kind)
          if (!result.ok) {
            const f = result.failure
            if (f.kind === 'cancel' || f.kind === 'client-body') throw f.kind === 'client-body' ? f.error : gatewayErrorFor(f)
            metrics.upstreamErrors.inc({ pool: pool.name, kind: 'tls' in f && f.tls ? 'tls' : f.kind })
            // A held status-failed answer, if any, stays the best we have.
            lastFailure = latest = f
            continue
          }
          const { response: res, ms } = result
          ctx.upstreamMs = ms
          observeUpstream(pool, ms / 1000)
          const status = res.statusCode
          if (grpc) {
            grpcDeadline = deadlineAt
            if (status === 200 && grpcRetryCondition(res.headers, retry.on) !== undefined) {
              // A Trailers-Only failure the pool retries: held back like a retryable 5xx.
              metrics.upstreamErrors.inc({ pool: pool.name, kind: 'status' })
              lease.end('failure', ms, 'status')
              if (held !== undefined) discard(held.res)
              held = { res, backend, pool, ms, grpc: true }
              lastFailure = latest = undefined
              continue
            }
          }
          if (status >= 500) metrics.upstreamErrors.inc({ pool: pool.name, kind: 'status' })
          if (status >= 400 && idempotent && replayable && statusRetryable(plan, status, res.headers['retry-after'])) {
            // Hold it back: another backend may do better; if none can, this is the answer.
            lease.end(status >= 500 ? 'failure' : 'success', ms, status >= 500 ? 'status' : undefined)
            if (held !== undefined) discard(held.res)
            held = { res, backend, pool, ms }
            lastFailure = latest = undefined
            continue
          }
          if (held !== undefined) {
            discard(held.res)
            held = undefined
          }
          return finish(res, status >= 500 ? 'failure' : 'success', lease, ms, pool, backend)
        }
        previousPool = pool.name
      }

      // The route's deadline passed: 504, whatever was held (its body may be aborted already).
      if (deadlineHit) {
        const e = new ERR_UPSTREAM_TIMEOUT()
        if (lastFailure !== undefined) e.cause = lastFailure.error
        throw e
      }
      if (held !== undefined) {
        const h = held
        held = undefined
        ctx.backend = h.backend.origin
        ctx.servedByPool = h.pool.name
        return finish(h.res, 'done', undefined, h.ms, h.pool, h.backend)
      }
      // A failed last resort is still "nothing available" (SPEC §5: tried anyway, before 503).
      if (lastFailure !== undefined && ctx.lastResort !== true) throw gatewayErrorFor(lastFailure)
      const e = new ERR_NO_BACKEND(ctx.pool)
      if (lastFailure !== undefined) e.cause = lastFailure.error
      throw e
    } finally {
      if (deadline !== undefined) clearTimeout(deadline)
      if (held !== undefined) discard(held.res)
      leaveBudget()
      closer?.off('close', onClose)
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
