/**
 * The proxy pipeline's contracts. The catch-all route handler asks a composed `Forward`
 * function for an upstream response, then streams it to the client. Features that sit between
 * the client and the upstream (cache, mirroring) are `ForwardMiddleware`s registered with
 * `useForward(mw, appliesTo)`: earlier registrations wrap later ones, and each compiled route
 * gets a chain of only the middlewares that apply to it, composed once.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import type { FastifyRequest } from 'fastify'
import type { RequestContext } from '../request-context.js'
import type { CompiledRoute } from '../routing/types.js'
import type { RuntimeState } from '../runtime-state.js'

/** An upstream answer that has not been sent to the client yet. */
export interface UpstreamResponse {
  statusCode: number
  /** Lower-case names; hop-by-hop headers already removed. */
  headers: IncomingHttpHeaders
  /** The body; null for bodiless answers (HEAD, 204, 304, or a cache hit on HEAD). */
  body: Readable | Buffer | null
}

/** Extra inputs a middleware may pass down (e.g. conditional headers for revalidation). */
export interface ForwardOptions {
  /** Headers to add or replace on the upstream request (lower-case names). */
  readonly extraHeaders?: Readonly<Record<string, string>>
  /** Send upstream with this method instead (e.g. GET for a HEAD cache fill). */
  readonly method?: string
  /** Client request headers not to send upstream (lower-case), e.g. its conditionals on a cache fill. */
  readonly dropHeaders?: readonly string[]
  /** Do not send the client body (background revalidation, mirroring). */
  readonly noBody?: boolean
}

/**
 * Obtain an upstream response for this request: pool choice, failover, retries. Rejects with
 * a typed gateway error (statusCode 502, 503 or 504) when no upstream could answer.
 */
export type Forward = (request: FastifyRequest, ctx: RequestContext, options?: ForwardOptions) => Promise<UpstreamResponse>

export type ForwardMiddleware = (next: Forward) => Forward

/**
 * Which routes a middleware wraps. The chain is composed per compiled route (once, on first
 * use), so a route without the feature pays nothing for it: not even a pass-through call.
 */
export type ForwardScope = (route: CompiledRoute, state: RuntimeState) => boolean

export interface ScopedForwardMiddleware {
  readonly middleware: ForwardMiddleware
  readonly appliesTo: ForwardScope
}
