/**
 * Routes that can never match because an earlier route takes every request they could take
 * (first match wins). `switchyard check` warns about them: the file is valid, but almost
 * certainly not what was meant (a catch-all written above the specific routes is the classic).
 *
 * Conservative: a route is reported only when the earlier one provably covers it (fewer or equal
 * conditions, each at least as wide): its path prefix covers the later path, prefix or exact
 * path; its host equals, or its wildcard covers, the later host; its methods include the later
 * ones; and it has no header, regex, client-IP or other condition that could let a request
 * through to the later route. When in doubt, no warning.
 */
import type { RouteMatchSettings, RouteSettings } from '../config/model.js'
import { normalizeConfiguredPath } from './normalize-path.js'

export interface ShadowedRoute {
  readonly index: number
  readonly name: string
  readonly by: number
  readonly byName: string
}

function prefixCovers(prefix: string, path: string): boolean {
  if (prefix === '/') return true
  return path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`)
}

function pathCovers(a: RouteMatchSettings, b: RouteMatchSettings): boolean {
  if (a.pathRegex !== undefined) return false
  if (a.path === undefined && a.pathExact === undefined) return true
  if (b.pathRegex !== undefined) return false
  const bp = b.path ?? b.pathExact
  if (bp === undefined) return false
  const ap = normalizeConfiguredPath((a.path ?? a.pathExact)!)
  const bn = normalizeConfiguredPath(bp)
  if (a.pathExact !== undefined) return b.pathExact !== undefined && ap === bn
  return prefixCovers(ap, bn)
}

function hostCovers(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined) return true
  if (b === undefined) return false
  if (a === b) return true
  // *.example.com covers x.example.com and *.x.example.com (any name under it).
  return a.startsWith('*.') && b.endsWith(a.slice(1))
}

function methodsCover(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || a.length === 0) return true
  if (b === undefined || b.length === 0) return false
  const set = new Set(a.includes('GET') ? [...a, 'HEAD'] : a)
  return b.every((m) => set.has(m))
}

function covers(earlier: RouteSettings, later: RouteSettings): boolean {
  const a = earlier.match
  const b = later.match
  if (a.headers !== undefined && Object.keys(a.headers).length > 0) return false
  if (a.clientIp !== undefined) return false
  // A preflight passes a CORS route's method condition; keep it simple: no claim about those.
  if (earlier.cors !== undefined && a.methods !== undefined) return false
  return pathCovers(a, b) && hostCovers(a.host, b.host) && methodsCover(a.methods, b.methods)
}

export function shadowedRoutes(routes: readonly RouteSettings[]): ShadowedRoute[] {
  const out: ShadowedRoute[] = []
  for (let j = 1; j < routes.length; j++) {
    for (let i = 0; i < j; i++) {
      if (covers(routes[i]!, routes[j]!)) {
        out.push({ index: j, name: routes[j]!.name, by: i, byName: routes[i]!.name })
        break
      }
    }
  }
  return out
}
