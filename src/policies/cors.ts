/**
 * CORS per route (`cors: { origins, methods, headers, exposeHeaders, credentials, maxAge }`), with
 * @fastify/cors's semantics as the reference and the Fetch standard's CORS protocol as the rule:
 *
 * - A preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered by the
 *   gateway: 204 with Access-Control-Allow-Origin/-Methods/-Headers (the configured headers, or
 *   the requested ones when none are configured, as @fastify/cors reflects them), -Max-Age and
 *   -Allow-Credentials. It is never forwarded. A preflight from an origin not allowed, or asking
 *   for a method or header not allowed, is refused with 403 SWITCHYARD_CORS_ORIGIN (@fastify/cors
 *   answers it without allow headers; the browser fails either way, the 403 says why).
 * - An actual request from an allowed origin gets Access-Control-Allow-Origin (the origin itself,
 *   or `*` for `origins: ["*"]`), -Allow-Credentials and -Expose-Headers on whatever answers it:
 *   the upstream's response, a cached one, or the gateway's own (a 401, a 429), so scripts can
 *   read why they were refused. Requests from other origins are forwarded without them (a
 *   browser then hides the answer; server-to-server callers are unaffected).
 * - `Vary: Origin` on every answer unless the route allows every origin, so a shared cache never
 *   hands one origin's allow header to another (appended to the upstream's Vary, not replacing it).
 * - Credentials never with `*` (refused by the configuration).
 *
 * Phase `early`: a preflight carries no credentials (Fetch standard), so it must be answered
 * before authentication; it costs no rate-limit budget either. Everything is compiled per route:
 * the exact origins in a Set, patterns as (scheme, suffix) pairs, the preflight headers joined.
 */
import type { RouteCorsSettings } from '../config/model.js'
import { GatewayAnswer } from '../pipeline/answer.js'
import type { Feature, RouteFeature, StageRun } from '../pipeline/feature.js'
import type { CompiledRoute } from '../routing/types.js'
import { ERR_CORS_ORIGIN } from './errors.js'

/** Fetch standard: methods a preflight never needs to list. */
const SAFELISTED_METHODS = new Set(['GET', 'HEAD', 'POST'])
/** Fetch standard: CORS-safelisted request headers (values aside). */
const SAFELISTED_HEADERS = new Set(['accept', 'accept-language', 'content-language', 'content-type', 'range'])

/** Whether an Origin value is allowed: compiled from `origins`. */
export function compileOriginMatcher(origins: readonly string[]): (origin: string) => boolean {
  if (origins.includes('*')) return () => true
  const exact = new Set(origins.filter((o) => !o.includes('://*.')))
  const patterns = origins
    .filter((o) => o.includes('://*.'))
    .map((o) => {
      const i = o.indexOf('://*.')
      return { scheme: o.slice(0, i + 3), suffix: o.slice(i + 4) } // suffix keeps the leading dot
    })
  const HOST_CHARS = /^[a-z0-9-]+(\.[a-z0-9-]+)*$/
  const byPattern = (origin: string): boolean => {
    for (const p of patterns) {
      if (!origin.startsWith(p.scheme) || !origin.endsWith(p.suffix)) continue
      const sub = origin.slice(p.scheme.length, origin.length - p.suffix.length)
      // At least one label, made of host characters only: no port, path or userinfo hidden in it.
      if (sub.length > 0 && HOST_CHARS.test(sub)) return true
    }
    return false
  }
  return (origin) => {
    if (exact.has(origin)) return true
    const lower = origin.toLowerCase()
    if (lower !== origin && exact.has(lower)) return true
    return patterns.length > 0 && byPattern(lower)
  }
}

function corsStage(s: RouteCorsSettings): StageRun {
  const allowed = compileOriginMatcher(s.origins)
  const any = s.origins.includes('*')
  const credentials = s.credentials
  const methods = new Set(s.methods)
  const methodsText = s.methods.join(', ')
  const headersList = s.headers
  const headerSet = headersList === undefined ? undefined : new Set(headersList)
  const headersText = headersList?.join(', ')
  const exposeText = s.exposeHeaders.length > 0 ? s.exposeHeaders.join(', ') : undefined
  const maxAgeText = s.maxAge === undefined ? undefined : String(Math.floor(s.maxAge / 1000))
  const preflightVary = headerSet === undefined ? 'Origin, Access-Control-Request-Headers' : 'Origin'

  const refuse = (origin: string): never => {
    throw new ERR_CORS_ORIGIN(JSON.stringify(origin.length > 200 ? origin.slice(0, 200) + '…' : origin))
  }

  const preflight = (origin: string, method: string, requested: string | undefined): never => {
    if (!allowed(origin)) refuse(origin)
    if (!methods.has(method) && !SAFELISTED_METHODS.has(method)) refuse(origin)
    let allowHeaders = headersText
    if (requested !== undefined && requested !== '') {
      if (headerSet === undefined) allowHeaders = requested
      else {
        for (const h of requested.split(',')) {
          const name = h.trim().toLowerCase()
          if (name !== '' && !headerSet.has(name) && !SAFELISTED_HEADERS.has(name)) refuse(origin)
        }
      }
    }
    const headers: Record<string, string> = {
      'access-control-allow-origin': any && !credentials ? '*' : origin,
      'access-control-allow-methods': methodsText,
      vary: preflightVary,
      'content-length': '0',
    }
    if (allowHeaders !== undefined && allowHeaders !== '') headers['access-control-allow-headers'] = allowHeaders
    if (credentials) headers['access-control-allow-credentials'] = 'true'
    if (maxAgeText !== undefined) headers['access-control-max-age'] = maxAgeText
    throw new GatewayAnswer(204, headers, null)
  }

  return (request, ctx) => {
    const origin = request.headers.origin
    if (request.method === 'OPTIONS') {
      const acrm = request.headers['access-control-request-method']
      if (typeof origin === 'string' && typeof acrm === 'string') preflight(origin, acrm.trim().toUpperCase(), request.headers['access-control-request-headers'])
    }
    if (typeof origin !== 'string') {
      if (!any) (ctx.responseHeaders ??= {})['vary'] = 'Origin'
      return
    }
    const out = (ctx.responseHeaders ??= {})
    if (!any) out['vary'] = 'Origin'
    if (!allowed(origin)) return
    out['access-control-allow-origin'] = any ? '*' : origin
    if (credentials) out['access-control-allow-credentials'] = 'true'
    if (exposeText !== undefined) out['access-control-expose-headers'] = exposeText
  }
}

export function createCorsFeature(): Feature {
  return {
    name: 'cors',
    prepare() {
      return {
        compileRoute(route: CompiledRoute): RouteFeature | undefined {
          const s = route.settings.cors
          return s === undefined ? undefined : { stage: { phase: 'early', run: corsStage(s) } }
        },
      }
    },
  }
}
