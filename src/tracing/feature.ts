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
import type { GatewaySettings, OtlpSettings } from '../config/model.js'
import type { Feature, RouteFeature } from '../pipeline/feature.js'
import type { ProxyRequest } from '../proxy/request.js'
import type { RequestContext } from '../request-context.js'
import type { SpanExport, SpanExportOptions } from './span-export.js'
import { formatTraceParent, nextHop, SAMPLED } from './trace-context.js'

function propagate(request: ProxyRequest, ctx: RequestContext): void {
  const hop = nextHop(request.headers.traceparent)
  ctx.traceId = hop.traceId
  const headers = (ctx.upstreamHeaders ??= {})
  headers.traceparent = hop.traceparent
  // undefined: the proxy skips the client's copy and undici sends no field of that name.
  if (!hop.continued && request.headers.tracestate !== undefined) headers.tracestate = undefined as unknown as string
}

const EVERY_ROUTE: RouteFeature = Object.freeze({ stage: Object.freeze({ phase: 'early', run: propagate }) })

/**
 * Propagation plus recording (`tracing.otlp`). Parent-based sampling: a client's traceparent
 * decides for its trace (its sampled flag); a new trace is recorded at `sampleRate`, and the
 * upstream is told the decision in the flags, so the services behind agree with the gateway.
 */
function recordingStage(spans: SpanExport): RouteFeature {
  const run = (request: ProxyRequest, ctx: RequestContext): void => {
    const hop = nextHop(request.headers.traceparent)
    ctx.traceId = hop.traceId
    const headers = (ctx.upstreamHeaders ??= {})
    const sampled = hop.continued ? hop.traceparent.endsWith('1') : spans.sampleNew()
    headers.traceparent = hop.continued ? hop.traceparent : formatTraceParent(hop.traceId, hop.spanId, sampled ? SAMPLED : 0)
    if (!hop.continued && request.headers.tracestate !== undefined) headers.tracestate = undefined as unknown as string
    if (sampled) ctx.span = spans.begin(hop.traceId, hop.spanId, hop.parentId, ctx.startedAt)
  }
  return Object.freeze({ stage: Object.freeze({ phase: 'early', run }) })
}

function sameOtlp(a: OtlpSettings | undefined, b: OtlpSettings | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/**
 * The tracing feature. Without `tracing.otlp` it only propagates. With it, one exporter per
 * OTLP setting: a reload that keeps the setting keeps the exporter (and its queue); one that
 * changes it builds a new exporter, and the old one flushes what it holds and stops on commit.
 */
export function createTracingFeature(options: SpanExportOptions = {}): Feature {
  let active: SpanExport | undefined
  return {
    name: 'tracing',
    async prepare(next: GatewaySettings) {
      const otlp = next.tracing?.otlp
      if (otlp === undefined) {
        return {
          compileRoute: () => EVERY_ROUTE,
          commit() {
            void active?.close()
            active = undefined
          },
        }
      }
      const reuse = active !== undefined && sameOtlp(active.settings, otlp)
      // The OpenTelemetry SDK is loaded only by gateways that export spans.
      const spans = reuse ? active! : (await import('./span-export.js')).createSpanExport(otlp, options)
      const feature = recordingStage(spans)
      return {
        compileRoute: () => feature,
        commit() {
          if (active !== spans) void active?.close()
          active = spans
        },
        discard() {
          if (spans !== active) void spans.close()
        },
      }
    },
    close() {
      const closing = active?.close()
      active = undefined
      return closing
    },
  }
}
