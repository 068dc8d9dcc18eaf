/**
 * Interim (1xx) responses from the upstream, relayed to the client. RFC 9110 §15.2: a proxy
 * MUST forward 1xx responses unless it asked for them itself, so `102 Processing` and
 * `103 Early Hints` reach the client before the final answer. They are never cached: the cache
 * only ever sees the final response (RFC 9111 §3), and a stored response is answered without
 * them.
 *
 * Only the client's own exchange (and a cache fill it waits for) relays them: a background
 * revalidation or a shadow copy must not write into a response that may already be sent.
 * `100 Continue` is the connection's business (undici and Node's server handle Expect
 * themselves) and `101` is an upgrade (the WebSocket tunnel), so neither is relayed here.
 */
import type { IncomingHttpHeaders } from 'node:http'

/** The parts of the client's response (HTTP/1.1 or the HTTP/2 compatibility API) 1xx writing needs. */
export interface InterimSink {
  readonly headersSent: boolean
  readonly writableEnded: boolean
  /** Node ≥ 24: any 1xx with headers. */
  writeInformation?(statusCode: number, headers: Record<string, string | string[]>): void
  /** 103 with a Link field (Node ≥ 18.11, HTTP/1.1 and HTTP/2). */
  writeEarlyHints?(hints: Record<string, string | string[]>): void
  /** 102 (HTTP/1.1). */
  writeProcessing?(): void
}

// Connection-specific fields are not forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'content-length'])

/** Relay one interim response to the client, if it can still take one. Never throws. */
export function relayInterim(sink: InterimSink, statusCode: number, headers: IncomingHttpHeaders | Record<string, string | string[]>): void {
  if (statusCode < 102 || statusCode > 199 || sink.headersSent || sink.writableEnded) return
  const out: Record<string, string | string[]> = {}
  for (const name in headers) {
    const v = headers[name]
    if (v !== undefined && !HOP_BY_HOP.has(name)) out[name] = v
  }
  try {
    if (typeof sink.writeInformation === 'function') sink.writeInformation(statusCode, out)
    else if (statusCode === 103 && typeof sink.writeEarlyHints === 'function') sink.writeEarlyHints(out)
    else if (statusCode === 102 && typeof sink.writeProcessing === 'function') sink.writeProcessing()
  } catch {
    // A field Node refuses to write (or a response that went away): the final answer matters, this does not.
  }
}
