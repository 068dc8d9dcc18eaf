/**
 * W3C trace propagation: every forwarded request carries a `traceparent` whose trace id is the
 * client's (or a new one) and whose parent id is this gateway hop, so upstream spans join the
 * client's trace, and the access log line carries the trace id next to the request id.
 *
 * The header goes through ctx.upstreamHeaders: the proxy drops the client's copy of any header
 * named there and sends the gateway's. `tracestate` (§3.3) is passed through untouched when
 * the client's traceparent is valid; when a new trace starts it is dropped, since its entries
 * describe a trace the upstream will not see (§4.3: tracestate is only read with a valid
 * traceparent).
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import '../src/gateway-handle.js'
import { kContext } from '../src/request-context.js'
import { nextHop } from '../src/tracing/trace-context.js'

async function tracingPlugin(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', (request, _reply, done) => {
    const ctx = request[kContext]
    // Unrouted requests never reach here (request-context answers them first).
    if (ctx === null || ctx === undefined) return done()
    const hop = nextHop(request.headers.traceparent)
    ctx.traceId = hop.traceId
    const headers = (ctx.upstreamHeaders ??= {})
    headers.traceparent = hop.traceparent
    // undefined: the proxy skips the client's copy and undici sends no field of that name.
    if (!hop.continued && request.headers.tracestate !== undefined) headers.tracestate = undefined as unknown as string
    done()
  })
}

export default fp(tracingPlugin, { name: 'switchyard-tracing', fastify: '5.x' })
