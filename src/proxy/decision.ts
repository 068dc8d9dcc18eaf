/**
 * The one place where a request's pool is decided: after authentication (a split may key on a
 * claim), before the forward chain (the cache key includes the pool). Plain requests, WebSocket
 * upgrades, cache fills and explain read `ctx.pool` from here; nobody else calls the split.
 */
import { appendSetCookie } from '../net/cookies.js'
import type { RequestContext } from '../request-context.js'
import type { ProxyRequest } from './request.js'

export function decidePool(request: ProxyRequest, ctx: RequestContext): void {
  if (ctx.pool !== undefined) return
  const decision = ctx.route!.split.choose({ headers: request.headers, clientIp: ctx.clientIp, claims: ctx.claims, path: ctx.path, query: ctx.query })
  ctx.pool = decision.pool
  if (decision.setCookie !== undefined) appendSetCookie((ctx.responseHeaders ??= {}), decision.setCookie)
}
