/**
 * `access: { allow, deny }`: client-IP rules per route, checked on the address the request
 * context resolved with trustedProxies (so a spoofed X-Forwarded-For from an untrusted peer
 * changes nothing) in canonical form. Deny is checked first; with an allow list, only listed
 * clients pass. Refused: 403 SWITCHYARD_ACCESS_DENIED, never forwarded.
 *
 * Phase `early`, before rate limits: a refused client spends no budget and costs no
 * verification. The matchers are compiled once per route (src/net/ip-matcher.ts).
 */
import type { RouteAccessSettings } from '../config/model.js'
import { compileIpMatcher } from '../net/ip-matcher.js'
import type { Feature, RouteFeature, StageRun } from '../pipeline/feature.js'
import type { CompiledRoute } from '../routing/types.js'
import { ERR_ACCESS_DENIED } from './errors.js'

/** A compiled access rule: true when `ip` may use the route. */
export function compileAccess(settings: RouteAccessSettings): (ip: string) => boolean {
  const deny = settings.deny.length > 0 ? compileIpMatcher(settings.deny) : undefined
  const allow = settings.allow !== undefined ? compileIpMatcher(settings.allow) : undefined
  if (deny !== undefined && allow !== undefined) return (ip) => !deny.has(ip) && allow.has(ip)
  if (deny !== undefined) return (ip) => !deny.has(ip)
  if (allow !== undefined) return (ip) => allow.has(ip)
  return () => true
}

/** For explain and tests: one-off check (compiles each time; not for the request path). */
export function accessAllows(settings: RouteAccessSettings, ip: string): boolean {
  return compileAccess(settings)(ip)
}

export function createAccessFeature(): Feature {
  return {
    name: 'access',
    prepare() {
      return {
        compileRoute(route: CompiledRoute): RouteFeature | undefined {
          const settings = route.settings.access
          if (settings === undefined) return undefined
          const allowed = compileAccess(settings)
          const run: StageRun = (_request, ctx) => {
            if (!allowed(ctx.clientIp)) throw new ERR_ACCESS_DENIED()
          }
          return { stage: { phase: 'early', run } }
        },
      }
    },
  }
}
