/**
 * The request as the framework-free core sees it. Fastify's request satisfies this
 * structurally, so adapters pass theirs straight in; the core never names Fastify.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'

export interface ProxyRequest {
  readonly method: string
  /** The request target as received (origin-form; the context holds the normalised path). */
  readonly url: string
  /** Lower-case names, as Node parsed them. */
  readonly headers: IncomingHttpHeaders
  /** The Node message: the body is read from it, the peer address from its socket. */
  readonly raw: IncomingMessage
}
