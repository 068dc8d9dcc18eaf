/**
 * What the cache needs to know about a request beyond its URL: the pool it will go to, the
 * header values the upstream will see, the surrogate announcement it carries, and the
 * same-origin targets named by a response's Location fields.
 */
import { appendSetCookie } from '../net/cookies.js'
import type { ProxyRequest } from '../proxy/request.js'
import type { RequestContext } from '../request-context.js'
import { normalizePath, type NormalizedTarget } from '../routing/normalize-path.js'
import type { CompiledRoute } from '../routing/types.js'
import { SURROGATE_CAPABILITY } from './policy.js'

// Forwarding headers from an untrusted peer are dropped by the proxy, so they never reach the
// upstream and must not split the key either.
const FORWARDING = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded', 'x-real-ip'])

/** The pool is part of the key, so choose it before the lookup (forward keeps a chosen pool). */
export function ensurePool(request: ProxyRequest, ctx: RequestContext, route: CompiledRoute): void {
  if (ctx.pool !== undefined) return
  const decision = route.split.choose({ headers: request.headers, clientIp: ctx.clientIp, claims: ctx.claims, path: ctx.path, query: ctx.query })
  ctx.pool = decision.pool
  if (decision.setCookie !== undefined) appendSetCookie((ctx.responseHeaders ??= {}), decision.setCookie)
}

/** A request header as the upstream receives it: gateway-set values win; untrusted forwarding headers are dropped. */
export function upstreamHeader(request: ProxyRequest, ctx: RequestContext): (name: string) => string | readonly string[] | undefined {
  const gw = ctx.upstreamHeaders
  const trusted = ctx.peerTrusted
  return (name) => {
    const g = gw?.[name]
    if (g !== undefined) return g
    if (!trusted && FORWARDING.has(name)) return undefined
    return request.headers[name]
  }
}

/** Edge Architecture: tell the origin a surrogate is here, appending to a downstream one's. */
export function announceSurrogate(request: ProxyRequest, ctx: RequestContext): void {
  if (ctx.upstreamHeaders?.['surrogate-capability'] !== undefined) return
  const theirs = request.headers['surrogate-capability']
  const value = theirs ? `${Array.isArray(theirs) ? theirs.join(', ') : theirs}, ${SURROGATE_CAPABILITY}` : SURROGATE_CAPABILITY
  ctx.upstreamHeaders = { ...ctx.upstreamHeaders, 'surrogate-capability': value }
}

/** A Location / Content-Location value resolved against the request, if it names our origin. */
export function sameOriginTarget(value: string | string[] | undefined, protocol: 'http' | 'https', host: string | undefined, path: string): NormalizedTarget | undefined {
  if (typeof value !== 'string' || value === '' || !host) return undefined
  try {
    const base = new URL(`${protocol}://${host}${path}`)
    const u = new URL(value, base)
    if (u.origin !== base.origin) return undefined
    return normalizePath(u.pathname + u.search)
  } catch {
    return undefined // unparsable: nothing we could have stored under it
  }
}
