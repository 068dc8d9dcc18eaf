/**
 * Building client answers on a cached route: a stored entry as a response (with `Age` and,
 * for a matching client conditional, a 304), `Cache-Status` (RFC 9211), and the response
 * fields a stored entry keeps or hides.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { UpstreamResponse } from '../proxy/types.js'
import { clientNotModified, currentAge, NOT_MODIFIED_FIELDS } from './policy.js'
import type { CacheEntry } from './store.js'

/** This cache's member name in `Cache-Status`. */
export const MEMBER = 'switchyard'

// Stored (a 304 refresh re-reads them) but never shown to clients: purge tags, surrogate
// controls and our own RFC 9213 targeted field are instructions to this gateway (CDNs strip
// them too). The route adds its targeted field's name (cache.targetedField).
export const HIDDEN: readonly string[] = Object.freeze(['cache-tag', 'surrogate-control'])

/**
 * The upstream's response fields as an entry stores them: Age is recomputed on every use;
 * Set-Cookie is dropped unless the route stores such responses (cache.storeSetCookie).
 */
export function storedHeaders(h: IncomingHttpHeaders, keepSetCookie = false): Record<string, string | readonly string[]> {
  const out: Record<string, string | readonly string[]> = {}
  for (const name in h) {
    const v = h[name]
    if (v === undefined || name === 'age' || (name === 'set-cookie' && !keepSetCookie)) continue
    out[name] = v
  }
  return out
}

/**
 * A stored entry as the answer to a request at `now`: `Age`, `Cache-Status`, no body for HEAD,
 * and a 304 with the RFC 9110 §15.4.5 fields when the client's conditional matches.
 */
export function entryResponse(
  entry: CacheEntry,
  method: string,
  requestHeaders: IncomingHttpHeaders,
  status: string,
  now: number,
  hidden: readonly string[] = HIDDEN,
  ageMs?: number,
): UpstreamResponse {
  const age = String(Math.floor((ageMs ?? currentAge(entry.freshness, now)) / 1000))
  if (clientNotModified(entry.headers, requestHeaders, entry.freshness.responseTime)) {
    const h: IncomingHttpHeaders = {}
    for (const name of NOT_MODIFIED_FIELDS) {
      const v = entry.headers[name]
      if (v !== undefined) h[name] = v as string
    }
    h.age = age
    h['cache-status'] = appendStatus(undefined, status)
    return { statusCode: 304, headers: h, body: null }
  }
  const h = { ...(entry.headers as IncomingHttpHeaders) }
  for (const name of hidden) delete h[name]
  h.age = age
  h['cache-status'] = appendStatus(h['cache-status'], status)
  const bodiless = entry.status === 204 || entry.status === 304
  if (!bodiless) h['content-length'] = String(entry.body.length)
  return { statusCode: entry.status, headers: h, body: method === 'HEAD' || bodiless ? null : entry.body }
}

/** An upstream response for the client: gateway-only fields removed, no body for HEAD. */
export function clientView(res: UpstreamResponse, head: boolean, hidden: readonly string[] = HIDDEN): UpstreamResponse {
  if (!head && !hidden.some((name) => res.headers[name] !== undefined)) return res
  const headers = { ...res.headers }
  for (const name of hidden) delete headers[name]
  if (head) discard(res)
  return { statusCode: res.statusCode, headers, body: head ? null : res.body }
}

/** RFC 9211 §2: a cache appends its member to any Cache-Status from caches nearer the origin. */
export function appendStatus(existing: string | string[] | undefined, params: string): string {
  const mine = `${MEMBER}; ${params}`
  if (existing === undefined) return mine
  return `${Array.isArray(existing) ? existing.join(', ') : existing}, ${mine}`
}

export function withStatus(res: UpstreamResponse, params: string): UpstreamResponse {
  res.headers['cache-status'] = appendStatus(res.headers['cache-status'], params)
  return res
}

/** Let an unwanted (small: 304, 5xx) upstream body flow out so its connection is reused. */
export function discard(res: UpstreamResponse): void {
  if (res.body !== null && !Buffer.isBuffer(res.body)) res.body.resume()
}
