/**
 * Shadow traffic: a route's `mirror: { pool, percent, maxBodySize }` sends a copy of that share
 * of its requests to another pool and discards the answers.
 *
 * Fire and forget: the copy is started next to the primary request and never awaited by it;
 * its errors are swallowed (counted, never thrown), so the client's response neither waits for
 * nor depends on the shadow. Bounded: only bodies the proxy already holds in memory can be
 * copied (a streamed body is read once, by the primary), bodies above maxBodySize are not
 * mirrored, and at most MAX_SHADOWS_IN_FLIGHT copies run at once per gateway, so a slow shadow
 * pool cannot pile up sockets and memory; requests over the cap are skipped and counted.
 *
 * The copy goes through the same pool chain and attempt runner as the primary request, so it
 * takes the backend a plain request of this client would (same hash key, same sticky pin).
 *
 * Metrics (on the gateway's registry):
 *   switchyard_mirror_requests_total{route,pool,status}   status code, or "error"
 *   switchyard_mirror_duration_seconds{route,pool}        time to the shadow's response headers
 *   switchyard_mirror_skipped_total{route,reason}         body-too-large | body-streamed | overloaded | no-backend
 *   switchyard_mirror_comparisons_total{route,pool,result} with `compare`: match | status | body | incomplete
 *   switchyard_mirror_divergence_ratio{route}              with `compare`: diverged / compared since start
 *
 * With `compare` (shadow-compare.ts), the shadow's answer is read (up to compare.maxBodySize)
 * instead of discarded, and compared with the primary's, whose body is copied as it streams to
 * the client. A request the split already sent to the shadow pool is not compared (an answer
 * compared with itself says nothing).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { LATENCY_BUCKETS, metricsOnce } from '../metrics.js'
import type { Feature } from '../pipeline/feature.js'
import type { RequestContext } from '../request-context.js'
import type { KeyInput } from '../routing/key-value.js'
import { firstLease } from '../upstream/pool-chain.js'
import type { PoolRegistry } from '../upstream/types.js'
import { runAttempt } from './attempt.js'
import { keyInputOf, requestBodyOf, routePlan } from './forward.js'
import { buildUpstreamHeaders } from './headers.js'
import type { ProxyRequest } from './request.js'
import { hasBody } from './request-body.js'
import type { Transport } from './transport.js'
import { compareAnswers, readUpTo, tapBody, type ComparedAnswer, type CompareResult } from './shadow-compare.js'
import type { MirrorCompareSettings } from '../config/model.js'
import type { Forward, ForwardMiddleware, UpstreamResponse } from './types.js'

/** Shadow requests in flight at once per gateway; more are skipped (reason "overloaded"). */
export const MAX_SHADOWS_IN_FLIGHT = 256

/** Request header marking a copy, so a shadow service can tell mirrored traffic from real. */
export const MIRROR_HEADER = 'x-switchyard-mirror'

/** The shadow reads at most this much of an answer before dropping the connection. */
const DISCARD_LIMIT = 256 * 1024

export interface MirrorMetrics {
  readonly requests: Counter<'route' | 'pool' | 'status'>
  readonly duration: Histogram<'route' | 'pool'>
  readonly skipped: Counter<'route' | 'reason'>
  readonly comparisons: Counter<'route' | 'pool' | 'result'>
  readonly divergence: Gauge<'route'>
}

/** The mirror series on a registry, created once (a gateway with a TLS listener registers plugins twice). */
export function mirrorMetrics(registry: Registry): MirrorMetrics {
  return metricsOnce(registry, 'mirror', () => ({
      requests: new Counter({
        name: 'switchyard_mirror_requests_total',
        help: 'Shadow (mirrored) requests by route, shadow pool and status code ("error" when no answer came)',
        labelNames: ['route', 'pool', 'status'] as const,
        registers: [registry],
      }),
      duration: new Histogram({
        name: 'switchyard_mirror_duration_seconds',
        help: 'Time to the shadow response headers, by route and shadow pool',
        labelNames: ['route', 'pool'] as const,
        buckets: LATENCY_BUCKETS,
        registers: [registry],
      }),
      skipped: new Counter({
        name: 'switchyard_mirror_skipped_total',
        help: 'Requests chosen for mirroring but not copied, by route and reason',
        labelNames: ['route', 'reason'] as const,
        registers: [registry],
      }),
      comparisons: new Counter({
        name: 'switchyard_mirror_comparisons_total',
        help: "Shadow answers compared with the primary's (mirror.compare), by result: match, status, body, incomplete (not compared)",
        labelNames: ['route', 'pool', 'result'] as const,
        registers: [registry],
      }),
      divergence: new Gauge({
        name: 'switchyard_mirror_divergence_ratio',
        help: "Share of compared shadow answers that differed from the primary's (status or body), per route, since start",
        labelNames: ['route'] as const,
        registers: [registry],
      }),
    }))
}

/** The two log levels the mirror uses. */
export interface MirrorLog {
  debug(obj: object, msg: string): void
}

export interface MirrorDeps {
  readonly metrics: MirrorMetrics
  readonly log: MirrorLog
  readonly transport: Transport
  /** Uniform [0, 1) source for sampling (tests pass a fixed one). */
  readonly random?: () => number
  readonly maxInFlight?: number
  /** Aborts copies in flight (gateway shutdown must not wait for a slow shadow pool). */
  readonly signal?: AbortSignal
  /** Every comparison's result (`mirror.compare`), e.g. for a canary's divergence gate. */
  readonly onComparison?: (route: string, result: CompareResult) => void
}

interface ShadowJob {
  readonly route: string
  readonly pool: string
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string | string[]>
  readonly body: Buffer | null
  /** The client's keys, so the copy takes the backend a plain request of this client would. */
  readonly keys: KeyInput
  readonly pools: PoolRegistry
  /** Read the answer for a comparison (up to this many bytes) instead of discarding it. */
  readonly keepUpTo?: number
}

export function createMirrorMiddleware(deps: MirrorDeps): ForwardMiddleware {
  const { metrics, log } = deps
  const random = deps.random ?? Math.random
  const maxInFlight = deps.maxInFlight ?? MAX_SHADOWS_IN_FLIGHT
  let inFlight = 0
  // Mirror each client request once, even when a middleware outside calls forward again.
  const mirrored = new WeakSet<RequestContext>()

  /** Per route: compared and diverged, for the divergence ratio. */
  const tallies = new Map<string, { compared: number; diverged: number }>()

  function recordComparison(route: string, pool: string, result: CompareResult | 'incomplete'): void {
    metrics.comparisons.inc({ route, pool, result })
    if (result === 'incomplete') return
    let t = tallies.get(route)
    if (t === undefined) tallies.set(route, (t = { compared: 0, diverged: 0 }))
    t.compared++
    if (result !== 'match') t.diverged++
    metrics.divergence.set({ route }, t.diverged / t.compared)
    deps.onComparison?.(route, result)
  }

  async function sendShadow(job: ShadowJob): Promise<ComparedAnswer | undefined> {
    // The shadow pool only: a copy never degrades into a fallback pool (that may be
    // production), and never goes to a shadow backend that is down (no last resort).
    const target = firstLease(job.pools, job.pool, job.keys, { followFallbacks: false, lastResort: false })
    if (target === undefined) {
      metrics.skipped.inc({ route: job.route, reason: 'no-backend' })
      return undefined
    }
    const { pool, lease } = target
    const result = await runAttempt(
      deps.transport,
      lease,
      { method: job.method, path: job.path, headers: job.headers, body: job.body, signal: deps.signal, responseTimeout: pool.settings.timeouts.response },
      () => false,
    )
    if (!result.ok) {
      // Aborted at shutdown: neither the shadow's fault nor an answer.
      if (result.failure.kind === 'cancel' || result.failure.kind === 'client-body') return undefined
      metrics.requests.inc({ route: job.route, pool: job.pool, status: 'error' })
      metrics.duration.observe({ route: job.route, pool: job.pool }, result.ms / 1000)
      log.debug({ route: job.route, pool: job.pool, backend: lease.backend.origin, err: result.failure.error.message }, 'mirror request failed')
      return undefined
    }
    const { response: res, ms } = result
    metrics.requests.inc({ route: job.route, pool: job.pool, status: String(res.statusCode) })
    metrics.duration.observe({ route: job.route, pool: job.pool }, ms / 1000)
    const failed = res.statusCode >= 500
    let kept: Buffer | undefined
    if (job.keepUpTo !== undefined) kept = await readUpTo(res.body, job.keepUpTo)
    else {
      try {
        await discardBody(res.body)
      } catch {
        // The answer is discarded anyway; a broken body only costs the connection.
      }
    }
    lease.end(failed ? 'failure' : 'success', ms, failed ? 'status' : undefined)
    if (kept === undefined) return undefined
    const ct = res.headers['content-type']
    return { status: res.statusCode, contentType: Array.isArray(ct) ? ct[0] : ct, body: kept }
  }

  function launch(job: ShadowJob): Promise<ComparedAnswer | undefined> {
    inFlight++
    return sendShadow(job)
      .catch((err: unknown) => {
        log.debug({ err: (err as Error).message }, 'mirror request failed')
        return undefined
      })
      .finally(() => {
        inFlight--
      })
  }

  /** The primary's answer as it reaches the client (its body copied on the way), for the comparison. */
  function primaryAnswer(res: UpstreamResponse, c: MirrorCompareSettings): Promise<ComparedAnswer | undefined> {
    const ct = res.headers['content-type']
    const contentType = Array.isArray(ct) ? ct[0] : ct
    const answer = (body: Buffer | undefined): ComparedAnswer | undefined => (body === undefined ? undefined : { status: res.statusCode, contentType, body })
    if (res.grpc !== undefined) return Promise.resolve(undefined)
    if (res.body === null) return Promise.resolve(answer(Buffer.alloc(0)))
    if (Buffer.isBuffer(res.body)) return Promise.resolve(res.body.length > c.maxBodySize ? undefined : answer(res.body))
    return new Promise((resolve) => {
      res.body = tapBody(res.body as import('node:stream').Readable, c.maxBodySize, (b) => resolve(answer(b)))
    })
  }

  async function compared(primary: Promise<UpstreamResponse>, shadow: Promise<ComparedAnswer | undefined>, c: MirrorCompareSettings, route: string, pool: string): Promise<UpstreamResponse> {
    const res = await primary
    const mine = primaryAnswer(res, c)
    void Promise.all([mine, shadow]).then(([p, s]) => {
      recordComparison(route, pool, p === undefined || s === undefined ? 'incomplete' : compareAnswers(p, s, c.ignorePaths))
    })
    return res
  }

  return (next: Forward): Forward =>
    async function mirror(request: ProxyRequest, ctx: RequestContext, options) {
      const route = ctx.route
      const m = route?.settings.mirror
      // Copy the client's own exchange once: not the gateway's own requests (cache
      // revalidation), not a second forward of the same request.
      if (m === undefined || (options?.purpose !== undefined && options.purpose !== 'client') || options?.noBody === true || mirrored.has(ctx)) return next(request, ctx, options)
      mirrored.add(ctx)
      if (m.percent < 100 && random() * 100 >= m.percent) return next(request, ctx, options)
      const routeName = route!.name
      if (inFlight >= maxInFlight) {
        metrics.skipped.inc({ route: routeName, reason: 'overloaded' })
        return next(request, ctx, options)
      }

      let body: Buffer | null = null
      if (hasBody(request.raw)) {
        const declared = Number(request.headers['content-length'] ?? -1)
        if (declared > m.maxBodySize) {
          metrics.skipped.inc({ route: routeName, reason: 'body-too-large' })
          return next(request, ctx, options)
        }
        let prepared
        try {
          // The same memoised preparation the proxy uses: no extra read, no extra wait.
          prepared = await requestBodyOf(request, ctx)
        } catch {
          return next(request, ctx, options) // the proxy reports the body error itself
        }
        if (prepared.kind === 'stream') {
          metrics.skipped.inc({ route: routeName, reason: 'body-streamed' })
          return next(request, ctx, options)
        }
        if (prepared.kind === 'buffer') {
          if (prepared.data.length > m.maxBodySize) {
            metrics.skipped.inc({ route: routeName, reason: 'body-too-large' })
            return next(request, ctx, options)
          }
          body = prepared.data
        }
      }

      const headers = buildUpstreamHeaders(routePlan(route!).headers, {
        clientHeaders: request.headers,
        peerTrusted: ctx.peerTrusted,
        peerAddress: request.raw.socket.remoteAddress ?? ctx.clientIp,
        protocol: ctx.protocol,
        requestId: ctx.id,
        gatewayHeaders: ctx.upstreamHeaders,
        extra: undefined,
      })
      delete headers['transfer-encoding']
      if (body !== null) headers['content-length'] = String(body.length)
      else delete headers['content-length']
      headers[MIRROR_HEADER] = '1'
      const job: ShadowJob = {
        route: routeName,
        pool: m.pool,
        method: request.method,
        path: ctx.query === '' ? ctx.upstreamPath : `${ctx.upstreamPath}?${ctx.query}`,
        headers,
        body,
        keys: keyInputOf(request, ctx),
        pools: ctx.state.pools,
      }
      // The primary goes first; the copy is started after it and never awaited.
      const primary = next(request, ctx, options)
      const c = m.compare
      if (c === undefined || ctx.pool === m.pool) {
        void launch(job)
        return primary
      }
      return compared(primary, launch({ ...job, keepUpTo: c.maxBodySize }), c, routeName, m.pool)
    }
}

/** Read and drop at most DISCARD_LIMIT bytes of a shadow answer, then let the connection go. */
function discardBody(body: import('node:stream').Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0
    body.on('data', (c: Buffer) => {
      seen += c.length
      if (seen > DISCARD_LIMIT) {
        body.destroy()
        resolve()
      }
    })
    body.once('end', resolve)
    body.once('error', reject)
    body.once('close', resolve)
  })
}

/** Shadow traffic as a feature: routes with `mirror` get the middleware; shutdown abandons copies in flight. */
export function createMirrorFeature(deps: Omit<MirrorDeps, 'signal' | 'metrics'> & { readonly registry: Registry }): Feature {
  const shutdown = new AbortController()
  const middleware = createMirrorMiddleware({ ...deps, metrics: mirrorMetrics(deps.registry), signal: shutdown.signal })
  const compiled = { middleware }
  return {
    name: 'mirror',
    prepare: () => ({ compileRoute: (route) => (route.settings.mirror !== undefined ? compiled : undefined) }),
    close() {
      // Runs once client requests have finished: copies still in flight are abandoned, so a
      // slow shadow pool never holds up shutdown.
      shutdown.abort()
    },
  }
}
