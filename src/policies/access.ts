/**
 * `access: { allow, deny, countries }`: client-IP (and country) rules per route, checked on the address the request
 * context resolved with trustedProxies (so a spoofed X-Forwarded-For from an untrusted peer
 * changes nothing) in canonical form. Deny is checked first; with an allow list, only listed
 * clients pass. Refused: 403 SWITCHYARD_ACCESS_DENIED, never forwarded.
 *
 * Phase `early`, before rate limits: a refused client spends no budget and costs no
 * verification. The matchers are compiled once per route (src/net/ip-matcher.ts).
 */
import type { RouteAccessSettings } from '../config/model.js'
import { compileIpMatcher } from '../net/ip-matcher.js'
import { loadGeo } from '../net/geo.js'
import type { Feature, RouteFeature, StageRun } from '../pipeline/feature.js'
import type { CompiledRoute } from '../routing/types.js'
import { ERR_ACCESS_DENIED } from './errors.js'

/** A compiled access rule: true when `ip` may use the route. */
export function compileAccess(settings: RouteAccessSettings): (ip: string) => boolean {
  const deny = settings.deny.length > 0 ? compileIpMatcher(settings.deny) : undefined
  const allow = settings.allow !== undefined ? compileIpMatcher(settings.allow) : undefined
  // (Country rules are separate: compileCountryAccess.)
  if (deny !== undefined && allow !== undefined) return (ip) => !deny.has(ip) && allow.has(ip)
  if (deny !== undefined) return (ip) => !deny.has(ip)
  if (allow !== undefined) return (ip) => allow.has(ip)
  return () => true
}

/** For explain and tests: one-off check (compiles each time; not for the request path). */
export function accessAllows(settings: RouteAccessSettings, ip: string): boolean {
  return compileAccess(settings)(ip)
}

/** A compiled country rule: true when `country` (undefined: unknown) may use the route. Unknown fails an allow list. */
export function compileCountryAccess(c: NonNullable<RouteAccessSettings['countries']>): (country: string | undefined) => boolean {
  const deny = new Set(c.deny)
  const allow = c.allow === undefined ? undefined : new Set(c.allow)
  return (country) => {
    if (country !== undefined && deny.has(country)) return false
    return allow === undefined || (country !== undefined && allow.has(country))
  }
}

export function createAccessFeature(): Feature {
  return {
    name: 'access',
    prepare(next) {
      const geo = next.routes.some((r) => r.access?.countries !== undefined) ? loadGeo(next.geoip) : undefined
      return {
        compileRoute(route: CompiledRoute): RouteFeature | undefined {
          const settings = route.settings.access
          if (settings === undefined) return undefined
          const allowed = compileAccess(settings)
          const countryAllowed = settings.countries === undefined ? undefined : compileCountryAccess(settings.countries)
          const run: StageRun =
            countryAllowed === undefined
              ? (_request, ctx) => {
                  if (!allowed(ctx.clientIp)) throw new ERR_ACCESS_DENIED()
                }
              : (request, ctx) => {
                  if (!allowed(ctx.clientIp)) throw new ERR_ACCESS_DENIED()
                  if (!countryAllowed(geo?.country(ctx.clientIp, request.headers, ctx.peerTrusted))) throw new ERR_ACCESS_DENIED()
                }
          return { stage: { phase: 'early', run } }
        },
      }
    },
  }
}
