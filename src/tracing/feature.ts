/**
 * W3C trace propagation as a feature: every route's first stage. Every forwarded request
 * carries a `traceparent` whose trace id is the client's (or a new one) and whose parent id is
 * this gateway hop, so upstream spans join the client's trace, and the access log line carries
 * the trace id next to the request id.
 *
 * The header goes through ctx.upstreamHeaders: the proxy drops the client's copy of any header
 * named there and sends the gateway's. `tracestate` (§3.3) is passed through untouched when
 * the client's traceparent is valid; when a new trace starts it is dropped, since its entries
 * describe a trace the upstream will not see (§4.3: tracestate is only read with a valid
 * traceparent).
 */
import type { Feature, RouteFeature } from '../pipeline/feature.js'
import type { ProxyRequest } from '../proxy/request.js'
import type { RequestContext } from '../request-context.js'
import { nextHop } from './trace-context.js'

function propagate(request: ProxyRequest, ctx: RequestContext): void {
  const hop = nextHop(request.headers.traceparent)
  ctx.traceId = hop.traceId
  const headers = (ctx.upstreamHeaders ??= {})
  headers.traceparent = hop.traceparent
  // undefined: the proxy skips the client's copy and undici sends no field of that name.
  if (!hop.continued && request.headers.tracestate !== undefined) headers.tracestate = undefined as unknown as string
}

const EVERY_ROUTE: RouteFeature = Object.freeze({ stage: Object.freeze({ phase: 'early', run: propagate }) })

export function createTracingFeature(): Feature {
  return { name: 'tracing', prepare: () => ({ compileRoute: () => EVERY_ROUTE }) }
}
