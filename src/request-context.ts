/**
 * Per-request state, kept in one object (never ad-hoc `request.foo`). Created by admission
 * (src/data-plane/admission.ts) with `newRequestContext`; read by every later stage and by the
 * answer recorder.
 */
import type { InterimSink } from './proxy/interim.js'
import type { RuntimeState } from './runtime-state.js'
import type { CompiledRoute } from './routing/types.js'
import type { RequestSpan } from './tracing/span-export.js'

/** Receives a finished request's outcome: its context (the split's pool, fallback use), the status sent, milliseconds since arrival. */
export type OutcomeObserver = (ctx: RequestContext, status: number, ms: number) => void

export const kContext = Symbol('switchyard.context')

export interface RequestContext {
  readonly id: string
  /** performance.now() at arrival. */
  readonly startedAt: number
  /** The configuration snapshot this request runs on, even if a reload happens meanwhile. */
  readonly state: RuntimeState
  /** 'http' or 'https': how the request reached us. */
  readonly protocol: 'http' | 'https'
  /** Resolved with trustedProxies. */
  readonly clientIp: string
  /** Whether the TCP peer is a trusted proxy (its forwarding headers are believed). */
  readonly peerTrusted: boolean
  /** Normalised path (see src/routing/normalize-path.ts), no query. */
  readonly path: string
  /** Raw query string without '?', or ''. */
  readonly query: string
  route: CompiledRoute | undefined
  /** Path sent upstream (after rewritePrefix), query not included. */
  upstreamPath: string
  /** The pool the split chose, then the pool that actually served (fallback). */
  pool: string | undefined
  servedByPool: string | undefined
  backend: string | undefined
  attempts: number
  fallbackUsed: boolean
  /** Nothing was available: the chosen pool's backends were tried anyway (SPEC §5, last resort). */
  lastResort?: boolean
  upstreamMs: number | undefined
  cacheResult: string | undefined
  /** The authenticated consumer (API key name, basic-auth user): rate-limit key `apikey`, access log. */
  consumer?: string
  /** Verified JWT claims, when the route checked a token. */
  claims: Readonly<Record<string, unknown>> | undefined
  /** Headers the gateway adds upstream (e.g. forwarded claims); set after client copies are dropped. */
  upstreamHeaders: Record<string, string> | undefined
  /** Response body bytes sent (counted for streamed bodies without Content-Length). */
  responseBytes: number | undefined
  /** W3C trace id of this request (plugins/tracing.ts), logged with the request id. */
  traceId?: string
  /** Set when this request's spans are recorded (tracing.otlp, sampled): src/tracing/span-export.ts. */
  span?: RequestSpan
  /** Headers the gateway adds to the client response after upstream headers (they win). */
  responseHeaders: Record<string, string | string[]> | undefined
  /**
   * Where the upstream's interim (1xx) responses go: the client's response, set by the
   * data-plane adapter before the forward (src/proxy/interim.ts). Unset: they are dropped.
   */
  interim?: InterimSink
  /**
   * Set by a route stage that wants each request's outcome (canary analysis): the access log
   * calls it once the response has ended. Routes that set none pay one property read.
   */
  observe?: OutcomeObserver
}

/** What a request's context starts from; everything else starts empty. */
export interface RequestContextStart {
  readonly id: string
  readonly startedAt: number
  readonly state: RuntimeState
  readonly protocol: 'http' | 'https'
  readonly clientIp: string
  readonly peerTrusted: boolean
  readonly path?: string
  readonly query?: string
  readonly route?: CompiledRoute
  readonly upstreamPath?: string
}

/**
 * A new request context. Every field is present from the start, always in the same order, so
 * every context has one shape (V8 hidden classes) whatever sets what later.
 */
export function newRequestContext(s: RequestContextStart): RequestContext {
  return {
    id: s.id,
    startedAt: s.startedAt,
    state: s.state,
    protocol: s.protocol,
    clientIp: s.clientIp,
    peerTrusted: s.peerTrusted,
    path: s.path ?? '',
    query: s.query ?? '',
    route: s.route,
    upstreamPath: s.upstreamPath ?? '',
    pool: undefined,
    servedByPool: undefined,
    backend: undefined,
    attempts: 0,
    fallbackUsed: false,
    upstreamMs: undefined,
    cacheResult: undefined,
    claims: undefined,
    upstreamHeaders: undefined,
    responseHeaders: undefined,
    observe: undefined,
    responseBytes: undefined,
  }
}
