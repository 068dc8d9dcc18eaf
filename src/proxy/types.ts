/**
 * The proxy pipeline's contracts. The catch-all route handler asks a composed `Forward`
 * function for an upstream response, then streams it to the client. Features that sit between
 * the client and the upstream (cache, mirroring) are `ForwardMiddleware`s that features give
 * the routes that use them (src/pipeline/feature.ts); each route's chain is composed once per
 * configuration.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import type { ProxyRequest } from './request.js'
import type { RequestContext } from '../request-context.js'

/** An upstream answer that has not been sent to the client yet. */
export interface UpstreamResponse {
  statusCode: number
  /** Lower-case names; hop-by-hop headers already removed. */
  headers: IncomingHttpHeaders
  /** The body; null for bodiless answers (HEAD, 204, 304, or a cache hit on HEAD). */
  body: Readable | Buffer | null
  /**
   * Set on gRPC calls (src/proxy/grpc.ts): whether the body emits 'trailers', and when the
   * call's deadline passes (Date.now() scale).
   */
  grpc?: { readonly trailers: boolean; readonly deadlineAt?: number }
}

/**
 * Why a request goes upstream. `client` is the client's own exchange; the others are the
 * gateway's own requests on its behalf: a cache `fill` (a HEAD answered from a GET), a
 * background `revalidate`, a `shadow` copy. Middlewares decide on this, never on which
 * options happen to be set.
 */
export type ForwardPurpose = 'client' | 'fill' | 'revalidate' | 'shadow'

/** Extra inputs a middleware may pass down (e.g. conditional headers for revalidation). */
export interface ForwardOptions {
  /** Default `client`. */
  readonly purpose?: ForwardPurpose
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
export type Forward = (request: ProxyRequest, ctx: RequestContext, options?: ForwardOptions) => Promise<UpstreamResponse>

export type ForwardMiddleware = (next: Forward) => Forward
