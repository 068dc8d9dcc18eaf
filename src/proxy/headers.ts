/**
 * Header handling between client and upstream.
 *
 * Hop-by-hop headers (RFC 9110 §7.6.1) and every header named in `Connection` are removed in
 * both directions. Request headers with `_` in the name are dropped (they alias gateway-owned
 * dashed names in CGI-style frameworks). Headers the gateway owns (forwarding headers, request id, forwarded JWT
 * claims) are removed from the client's request first and then set by the gateway, so naming
 * them in `Connection` can strip the client's copy but never the gateway's.
 */
import { hasTemplate } from '../policies/header-templates.js'
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { HeaderRewriteSettings } from '../config/model.js'

/** RFC 9110 §7.6.1, plus the legacy names proxies still meet (RFC 2616 §13.5.1). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
])

/** Forwarding headers a client could forge; only a trusted peer's copies survive. */
const FORWARDING = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-prefix', 'forwarded', 'x-real-ip'] as const

/**
 * Request headers never copied from the client: hop-by-hop, `host` (the upstream's own
 * authority is sent), `expect` (Node answers 100-continue itself), `content-length` (set from
 * the body actually sent) and the request id (re-set by the gateway).
 */
const ALWAYS_DROPPED_REQUEST = new Set([...HOP_BY_HOP, 'host', 'expect', 'content-length', 'x-request-id'])

/** Per-route, precompiled: what to drop and set on the way up and on the way down. */
export interface HeaderPlan {
  /** Names dropped from the client request (lower-case). */
  readonly dropRequest: ReadonlySet<string>
  /** Same, when the peer is an untrusted client: also the forwarding headers. */
  readonly dropRequestUntrusted: ReadonlySet<string>
  readonly setRequest: readonly (readonly [string, string])[]
  readonly dropResponse: ReadonlySet<string>
  readonly setResponse: readonly (readonly [string, string])[]
}

export function compileHeaderPlan(headers: { request: HeaderRewriteSettings; response: HeaderRewriteSettings }, extraDropped: readonly string[]): HeaderPlan {
  // Values with `${client_ip}`-style templates are set per request by src/policies/header-templates.ts;
  // the client's own copies of those request headers are dropped here.
  const requestSet = Object.entries(headers.request.set)
  const templatedRequest = requestSet.filter(([, v]) => hasTemplate(v)).map(([k]) => k)
  const dropRequest = new Set<string>([...ALWAYS_DROPPED_REQUEST, ...headers.request.remove, ...extraDropped, ...templatedRequest])
  const dropRequestUntrusted = new Set<string>([...dropRequest, ...FORWARDING])
  return {
    dropRequest,
    dropRequestUntrusted,
    setRequest: requestSet.filter(([, v]) => !hasTemplate(v)),
    dropResponse: new Set<string>([...HOP_BY_HOP, ...headers.response.remove]),
    setResponse: Object.entries(headers.response.set).filter(([, v]) => !hasTemplate(v)),
  }
}

/** Names listed in a Connection header value (RFC 9110 §7.6.1), lower-cased. */
function connectionNamed(value: string | string[] | undefined): Set<string> | undefined {
  // The usual values name no header: no split, no set (Node's own upstreams send keep-alive).
  if (value === undefined || value === 'keep-alive' || value === 'close') return undefined
  const joined = Array.isArray(value) ? value.join(',') : value
  let out: Set<string> | undefined
  for (const token of joined.split(',')) {
    const name = token.trim().toLowerCase()
    if (name && name !== 'close' && name !== 'keep-alive') (out ??= new Set()).add(name)
  }
  return out
}

export interface UpstreamHeaderInput {
  readonly clientHeaders: IncomingHttpHeaders
  readonly peerTrusted: boolean
  readonly peerAddress: string
  readonly protocol: 'http' | 'https'
  readonly requestId: string
  /** Headers the gateway adds (claims etc.), already lower-case. */
  readonly gatewayHeaders: Readonly<Record<string, string>> | undefined
  /** Extra per-attempt headers (revalidation), lower-case. */
  readonly extra: Readonly<Record<string, string>> | undefined
  /** Client headers to leave out (lower-case). */
  readonly drop?: readonly string[]
}

/** Build the upstream request headers. Allocates one object; no regex. */
export function buildUpstreamHeaders(plan: HeaderPlan, input: UpstreamHeaderInput): Record<string, string | string[]> {
  const src = input.clientHeaders
  const drop = input.peerTrusted ? plan.dropRequest : plan.dropRequestUntrusted
  const named = connectionNamed(src.connection)
  const gw = input.gatewayHeaders
  const out: Record<string, string | string[]> = {}
  for (const name in src) {
    // HTTP/2 pseudo-headers (:method, :path, :authority, :scheme) never travel as fields.
    if (name.charCodeAt(0) === 58) continue
    if (drop.has(name)) continue
    // `x_user_id` reaches CGI/WSGI/Rack apps as HTTP_X_USER_ID, the same variable as the
    // gateway-owned `x-user-id`: drop every underscore name, as NGINX does by default.
    if (name.includes('_')) continue
    if (named !== undefined && named.has(name)) continue
    if (gw !== undefined && name in gw) continue
    const v = src[name]
    if (v !== undefined) out[name] = v
  }
  // Forwarding headers. A trusted peer's chain is extended; anyone else's was dropped above.
  const priorXff = input.peerTrusted ? src['x-forwarded-for'] : undefined
  const prior = priorXff === undefined ? '' : Array.isArray(priorXff) ? priorXff.join(', ') : priorXff
  out['x-forwarded-for'] = prior ? `${prior}, ${input.peerAddress}` : input.peerAddress
  if (!(input.peerTrusted && src['x-forwarded-proto'])) out['x-forwarded-proto'] = input.protocol
  const host = src.host ?? (src[':authority'] as string | undefined)
  if (!(input.peerTrusted && src['x-forwarded-host']) && host !== undefined) out['x-forwarded-host'] = host
  out['x-request-id'] = input.requestId
  for (const [k, v] of plan.setRequest) out[k] = v
  if (gw !== undefined) for (const k in gw) out[k] = gw[k]!
  if (input.drop !== undefined) for (const k of input.drop) delete out[k]
  if (input.extra !== undefined) for (const k in input.extra) out[k] = input.extra[k]!
  return out
}

/** Filter upstream response headers for the client (hop-by-hop, Connection-named, route removals). */
export function filterResponseHeaders(plan: HeaderPlan, upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = connectionNamed(upstream.connection)
  const out: OutgoingHttpHeaders = {}
  for (const name in upstream) {
    if (plan.dropResponse.has(name)) continue
    if (named !== undefined && named.has(name)) continue
    const v = upstream[name]
    if (v !== undefined) out[name] = v
  }
  return out
}

/** A client-sent request id is kept only when it is short and plainly printable. */
export function isValidRequestId(value: string): boolean {
  if (value.length === 0 || value.length > 128) return false
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    // A-Z a-z 0-9 - _ . : / + =
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95 || c === 46 || c === 58 || c === 47 || c === 43 || c === 61
    if (!ok) return false
  }
  return true
}
