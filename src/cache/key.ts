/**
 * Cache keys (RFC 9111 §2, §4.1). A stored body may only be reused for a request that would
 * have produced it, so everything in the request that can change the upstream's answer is
 * either in the key or makes the request bypass the cache (cache poisoning, e.g. unkeyed
 * X-Forwarded-Host or method-override headers reflected by an origin).
 *
 * Primary key (`urlKey`): method class + scheme + host + path + query.
 *   - method class: GET and HEAD share entries (HEAD is answered from the GET entry); no other
 *     method is stored, so the class is always `GET`.
 *   - host: lower-cased, trailing dot and the scheme's default port removed.
 *   - path: the gateway's normalised path (src/routing/normalize-path.ts), which is also what
 *     the upstream path is derived from.
 *   - query: kept byte for byte, in its original order. Sorting parameters would raise the hit
 *     rate but merge requests an origin may answer differently (`a=1&a=2` vs `a=2&a=1`, order-
 *     sensitive signatures), and the upstream always sees the original order: a sorted key
 *     would let one order's body answer the other.
 * Full key: the primary key, then the route (header-matched routes may send one URL to
 * different upstreams) and the pool the split chose (a client-selectable override must not put
 * a canary's body in front of everyone), then the forwarding headers that origins commonly
 * reflect, then the values of the request headers the stored response's `Vary` names, as sent
 * upstream (secondary key, §4.1).
 */
import type { IncomingHttpHeaders } from 'node:http'
import { fieldValue } from './cache-control.js'

// Separator that cannot occur in a host, a path, a query or a header value.
const SEP = '\n'
const ABSENT = '\u0001'

export interface ResourceInput {
  readonly protocol: 'http' | 'https'
  /** The Host header (or :authority) as received. */
  readonly host: string | undefined
  /** Normalised path, no query. */
  readonly path: string
  /** Raw query without '?', or ''. */
  readonly query: string
}

/** `host` lower-cased, without a trailing dot or the scheme's default port. */
export function normaliseHost(host: string | undefined, protocol: 'http' | 'https'): string {
  if (!host) return ''
  let h = host.toLowerCase()
  const defaultPort = protocol === 'https' ? ':443' : ':80'
  if (h.endsWith(defaultPort)) h = h.slice(0, -defaultPort.length)
  if (h.endsWith('.')) h = h.slice(0, -1)
  return h
}

/** The primary key of a request's target resource. */
export function urlKey(r: ResourceInput): string {
  const base = `GET ${r.protocol}://${normaliseHost(r.host, r.protocol)}${r.path}`
  return r.query ? `${base}?${r.query}` : base
}

// Forwarding headers an origin may reflect into a body (absolute links, redirects). They are
// keyed rather than stripped: the gateway may forward them from trusted proxies.
const REFLECTED = ['x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-prefix', 'forwarded'] as const

/**
 * The full key of the variant a request selects: primary key, route, pool, reflected
 * forwarding headers and the values of the `vary` headers. `header(name)` returns the value
 * of a request header as sent upstream.
 */
export function entryKey(
  url: string,
  route: string,
  pool: string | undefined,
  vary: readonly string[],
  header: (name: string) => string | readonly string[] | undefined,
): string {
  let k = url + SEP + route + SEP + (pool ?? '')
  for (const name of REFLECTED) {
    const v = header(name)
    if (v !== undefined) k += SEP + name + ':' + normaliseValue(v)
  }
  k += SEP + 'vary'
  for (const name of vary) {
    const v = header(name)
    // Language tags are case-insensitive (RFC 5646 §2.1.1): `en-GB` and `en-gb` are one variant.
    k += SEP + name + ':' + (v === undefined ? ABSENT : name === 'accept-language' ? normaliseValue(v).toLowerCase() : normaliseValue(v))
  }
  return k
}

/**
 * §4.1: values may be normalised before comparison when the semantics stay the same: repeated
 * field lines combined, whitespace around list commas and at the ends removed.
 */
export function normaliseValue(v: string | readonly string[]): string {
  const s = fieldValue(v) ?? ''
  return s.includes(',') ? s.split(',').map((x) => x.trim()).join(',') : s.trim()
}

// Headers that make an origin treat a GET as another method or another URL: such requests
// are never answered from or stored in the cache (not keyed: they change what the request is).
const OVERRIDES = ['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-url', 'x-rewrite-url'] as const

export type BypassReason = 'method' | 'range' | 'request-body' | 'override-header'

/**
 * Why a request to a cached route must neither be served from nor stored in the cache, or
 * undefined when it may use the cache. GET/HEAD only; no range support; a GET with a body may
 * get a body-dependent answer that no key covers.
 */
export function bypassReason(method: string, headers: IncomingHttpHeaders): BypassReason | undefined {
  if (method !== 'GET' && method !== 'HEAD') return 'method'
  if (headers.range !== undefined) return 'range'
  const cl = headers['content-length']
  if ((cl !== undefined && cl !== '0') || headers['transfer-encoding'] !== undefined) return 'request-body'
  for (const name of OVERRIDES) if (headers[name] !== undefined) return 'override-header'
  return undefined
}
