/**
 * One request and its response on a data listener: what the core's stages see as the request
 * (it satisfies ProxyRequest), the Node response, and the request context once admitted. One
 * object per request, of one shape, in place of a framework's request and reply objects.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { ProxyRequest } from '../proxy/request.js'
import type { RequestContext } from '../request-context.js'

export class Exchange implements ProxyRequest {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
  /** Set once admitted (src/data-plane/admission.ts); undefined for a request refused before. */
  ctx: RequestContext | undefined = undefined
  /** Headers the gateway's own answer must carry (Allow, Connection: close), set while admitting. */
  answerHeaders: Record<string, string> | undefined = undefined
  /** A WebSocket tunnel took over: it records its handshake answer itself. */
  tunnelled = false
  /** The response closed (answered, or the client went away); set by the data plane. */
  closed = false

  constructor(
    readonly raw: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    this.method = raw.method ?? 'GET'
    this.url = raw.url ?? '/'
    this.headers = raw.headers
  }

  /** Add a header to the gateway's own answer, should this request get one. */
  answerHeader(name: string, value: string): void {
    ;(this.answerHeaders ??= {})[name] = value
  }
}
