/**
 * Writing an upstream answer to the client's Node response: one header object, one
 * writeHead, then the body streamed with backpressure. Used by the data-plane adapter after it
 * has taken the response over from the framework, so no per-header framework call and no
 * serializer sits on the hot path.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'

type HeaderBag = Readonly<Record<string, string | number | readonly string[] | string[] | undefined>>

/**
 * Merge header bags in order, later ones winning, except `set-cookie`, whose values accumulate
 * (each is a separate field line, RFC 6265 §3).
 */
export function mergeHeaders(target: OutgoingHttpHeaders, source: HeaderBag | undefined): void {
  if (source === undefined) return
  for (const name in source) {
    const v = source[name]
    if (v === undefined) continue
    if (name === 'set-cookie') {
      const prior = target['set-cookie']
      if (prior !== undefined) {
        target['set-cookie'] = ([] as string[]).concat(prior as string | string[], v as string | string[])
        continue
      }
    } else if (name === 'vary') {
      // Vary is a list (RFC 9110 §12.5.5): a feature's `Vary: Origin` must not drop the
      // upstream's `Vary: Accept-Encoding`, or a shared cache would mix the variants.
      const prior = target['vary']
      if (prior !== undefined && prior !== '') {
        target['vary'] = appendVary(String(prior), String(v))
        continue
      }
    }
    target[name] = v as string | string[]
  }
}

/** The client's Node response, as much of it as writing an answer needs (HTTP/1.1 and the HTTP/2 compatibility API). */
export type ClientResponse = Pick<ServerResponse, 'writeHead' | 'end' | 'destroy'> & NodeJS.WritableStream

/**
 * Send status, headers and body. `onBytes` learns the body size: at once for a buffer or a
 * declared length, as it flows otherwise. Upstream body errors mid-stream destroy the client
 * response (the client sees a truncated answer, never a second status line).
 */
export function writeResponse(res: ClientResponse, status: number, headers: OutgoingHttpHeaders, body: Readable | Buffer | null, onBytes: (n: number) => void): void {
  res.writeHead(status, headers)
  if (body === null) {
    res.end()
    return
  }
  if (Buffer.isBuffer(body)) {
    onBytes(body.length)
    res.end(body)
    return
  }
  const declared = headers['content-length']
  if (declared !== undefined) onBytes(Number(declared))
  else body.on('data', (c: Buffer) => onBytes(c.length))
  // pipe, not stream.pipeline: pipeline aborts an AbortController on every completion, and
  // building that AbortError (a DOMException with a stack) cost ~5 % of the data plane's CPU.
  body.once('error', (err) => res.destroy(err))
  res.once('close', () => {
    if (!body.readableEnded) body.destroy()
  })
  body.pipe(res as NodeJS.WritableStream)
}

/** `prior` with the field names of `added` that it lacks (case-insensitive), or `*` if either is `*`. */
export function appendVary(prior: string, added: string): string {
  if (prior === '*' || added === '*') return '*'
  const have = prior.toLowerCase().split(',').map((n) => n.trim())
  let out = prior
  for (const name of added.split(',')) {
    const n = name.trim()
    if (n !== '' && !have.includes(n.toLowerCase())) out += `, ${n}`
  }
  return out
}
