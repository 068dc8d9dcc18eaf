/**
 * Span export over OTLP/HTTP (`tracing.otlp`), with the official OpenTelemetry SDK: a
 * BatchSpanProcessor in front of the OTLP/HTTP (JSON) trace exporter.
 *
 * The request path only records numbers: the tracing stage decides sampling and starts a
 * RequestSpan (ids, start time); the forward loop notes each upstream attempt (its span id goes
 * upstream as the parent in `traceparent`, W3C Trace Context §3.2, so the backend's spans hang
 * under the attempt that reached it). The SDK spans are built only when the response has ended,
 * after the answer was handed to the client, and exported in batches by the processor's timer:
 * nothing of the SDK runs between a request's arrival and its answer.
 *
 * Span ids are ours (the server span's id is the one already sent upstream on a retry-free
 * path, and each attempt's is the one its backend saw), so the SDK gets an IdGenerator that
 * returns the id we hand it just before each synchronous startSpan.
 */
import type { Attributes, Context } from '@opentelemetry/api'
import type { IdGenerator } from '@opentelemetry/sdk-trace-base'
import { lazyModule } from '../lazy-module.js'
import type { OtlpSettings } from '../config/model.js'
import { packageVersion } from '../package-root.js'
import { formatTraceParent, newId, SAMPLED } from './trace-context.js'

/** One upstream attempt of a recorded request. */
export interface AttemptRecord {
  readonly spanId: string
  readonly pool: string
  readonly backend: string
  /** performance.now() at send. */
  readonly start: number
  end: number
  status: number | undefined
  /** The failure kind (connect-error, reset, timeout, ...) when no response came. */
  error: string | undefined
}

/** What the access-log moment knows about the finished request. */
export interface FinishedRequest {
  readonly method: string
  readonly path: string
  readonly scheme: string
  readonly status: number
  readonly route: string
  readonly pool: string
  readonly client: string
  readonly requestId: string
  readonly code: string | undefined
}

/** The spans of one sampled request, recorded as plain numbers until it ends. */
export class RequestSpan {
  readonly attempts: AttemptRecord[] = []
  readonly #export: SpanExport

  constructor(
    spanExport: SpanExport,
    readonly traceId: string,
    /** The server span's id. */
    readonly spanId: string,
    /** The client's span, when the trace came from the client. */
    readonly parentId: string | undefined,
    /** performance.now() at arrival. */
    readonly start: number,
  ) {
    this.#export = spanExport
  }

  /**
   * A new attempt on `backend`: its span id becomes the parent the backend sees (`traceparent`
   * in `headers`, the request's upstream header object, rewritten before each send).
   */
  beginAttempt(pool: string, backend: string, headers: Record<string, string | string[] | undefined>): AttemptRecord {
    const a: AttemptRecord = { spanId: newId(8), pool, backend, start: performance.now(), end: 0, status: undefined, error: undefined }
    headers.traceparent = formatTraceParent(this.traceId, a.spanId, SAMPLED)
    this.attempts.push(a)
    return a
  }

  endAttempt(a: AttemptRecord, status: number | undefined, error: string | undefined): void {
    a.end = performance.now()
    a.status = status
    a.error = error
  }

  /** The request's answer has been written: hand the spans to the exporter. */
  finish(done: FinishedRequest): void {
    this.#export.record(this, done, performance.now())
  }
}

/** Epoch milliseconds of a performance.now() reading. */
function wallClock(t: number): number {
  return performance.timeOrigin + t
}

/** The span ids we chose, handed to the SDK one startSpan at a time. */
class ChosenIds implements IdGenerator {
  traceId = ''
  spanId = ''
  generateTraceId(): string {
    const id = this.traceId || newId(16)
    this.traceId = ''
    return id
  }
  generateSpanId(): string {
    const id = this.spanId || newId(8)
    this.spanId = ''
    return id
  }
}

export interface SpanExport {
  readonly settings: OtlpSettings
  /** Whether a new trace (no sampled decision from the client) is recorded. */
  sampleNew(): boolean
  /** Start the spans of a sampled request. */
  begin(traceId: string, spanId: string, parentId: string | undefined, start: number): RequestSpan
  /** Build the SDK spans of a finished request and queue them for export. */
  record(span: RequestSpan, done: FinishedRequest, end: number): void
  /** Export what is queued, then stop. */
  close(): Promise<void>
}

export interface SpanExportOptions {
  /** Random source in [0, 1) for sampling; default Math.random. */
  readonly random?: () => number
  /** Batch delay (ms); default the SDK's 5 s. Tests shorten it. */
  readonly scheduledDelayMillis?: number
}

// The OpenTelemetry SDK is loaded when a configuration first exports spans.
const otelApi = lazyModule<typeof import('@opentelemetry/api')>('@opentelemetry/api')
const otlpHttp = lazyModule<typeof import('@opentelemetry/exporter-trace-otlp-http')>('@opentelemetry/exporter-trace-otlp-http')
const otelResources = lazyModule<typeof import('@opentelemetry/resources')>('@opentelemetry/resources')
const otelSdk = lazyModule<typeof import('@opentelemetry/sdk-trace-base')>('@opentelemetry/sdk-trace-base')

export function createSpanExport(settings: OtlpSettings, options: SpanExportOptions = {}): SpanExport {
  const { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } = otelApi()
  const { OTLPTraceExporter } = otlpHttp()
  const { resourceFromAttributes } = otelResources()
  const { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor } = otelSdk()
  const ids = new ChosenIds()
  const exporter = new OTLPTraceExporter({ url: settings.tracesUrl, headers: { ...settings.headers } })
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'switchyard', 'service.version': packageVersion }),
    // Sampling is decided in the tracing stage: only sampled requests reach the SDK.
    sampler: new AlwaysOnSampler(),
    idGenerator: ids,
    spanProcessors: [
      new BatchSpanProcessor(exporter, {
        maxQueueSize: 4096,
        maxExportBatchSize: 512,
        ...(options.scheduledDelayMillis !== undefined ? { scheduledDelayMillis: options.scheduledDelayMillis } : {}),
      }),
    ],
  })
  const tracer = provider.getTracer('switchyard', packageVersion)
  const random = options.random ?? Math.random
  const rate = settings.sampleRate
  let closed: Promise<void> | undefined

  const self: SpanExport = {
    settings,
    sampleNew: rate >= 1 ? () => true : rate <= 0 ? () => false : () => random() < rate,
    begin(traceId, spanId, parentId, start) {
      return new RequestSpan(self, traceId, spanId, parentId, start)
    },
    record(span, done, end) {
      if (closed !== undefined) return
      const parent: Context =
        span.parentId === undefined
          ? ROOT_CONTEXT
          : trace.setSpanContext(ROOT_CONTEXT, { traceId: span.traceId, spanId: span.parentId, traceFlags: TraceFlags.SAMPLED, isRemote: true })
      const attributes: Attributes = {
        'http.request.method': done.method,
        'url.path': done.path,
        'url.scheme': done.scheme,
        'http.response.status_code': done.status,
        'client.address': done.client,
        'switchyard.route': done.route,
        'switchyard.pool': done.pool,
        'switchyard.request_id': done.requestId,
      }
      if (done.code !== undefined) attributes['error.type'] = done.code
      ids.traceId = span.traceId
      ids.spanId = span.spanId
      const server = tracer.startSpan(`${done.method} ${done.route}`, { kind: SpanKind.SERVER, startTime: wallClock(span.start), attributes }, parent)
      if (done.status >= 500) server.setStatus({ code: SpanStatusCode.ERROR })
      const under = trace.setSpan(ROOT_CONTEXT, server)
      span.attempts.forEach((a, i) => {
        const url = new URL(a.backend)
        const attempt: Attributes = {
          'http.request.method': done.method,
          'server.address': url.hostname,
          'server.port': Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
          'switchyard.pool': a.pool,
          'switchyard.backend': a.backend,
        }
        if (i > 0) attempt['http.request.resend_count'] = i
        if (a.status !== undefined) attempt['http.response.status_code'] = a.status
        if (a.error !== undefined) attempt['error.type'] = a.error
        ids.spanId = a.spanId
        const client = tracer.startSpan(done.method, { kind: SpanKind.CLIENT, startTime: wallClock(a.start), attributes: attempt }, under)
        if (a.error !== undefined || (a.status ?? 0) >= 500) client.setStatus({ code: SpanStatusCode.ERROR })
        client.end(wallClock(a.end || end))
      })
      server.end(wallClock(end))
    },
    close() {
      closed ??= provider.shutdown().catch(() => {})
      return closed
    },
  }
  return self
}
