/**
 * Route actions: `respond:` (a fixed status, headers and body) and `redirect:` (a Location built
 * from `to`, optionally keeping the request's path and query) answer the request at the gateway
 * instead of a pool.
 *
 * The stage runs in phase `late`: after rate limits, CORS, IP rules and authentication, so a
 * static answer can be protected like any other route, and before the pool decision, which such
 * a route does not have. It answers by throwing a GatewayAnswer (src/pipeline/answer.ts).
 *
 * Compiled once per route: a respond route's answer (headers and the body as a Buffer) is built
 * at compile time and the same object is thrown for every request; a redirect without kept
 * parts is one precomputed answer too. Only keepPath/keepQuery build a Location per request.
 */
import type { RouteRedirectSettings, RouteRespondSettings } from '../config/model.js'
import { GatewayAnswer } from '../pipeline/answer.js'
import type { Feature, RouteFeature, StageRun } from '../pipeline/feature.js'
import type { CompiledRoute } from '../routing/types.js'
import { normalizeConfiguredPath } from '../routing/normalize-path.js'

function respondStage(settings: RouteRespondSettings): StageRun {
  const body = settings.body === '' ? null : Buffer.from(settings.body, 'utf8')
  const headers: Record<string, string> = { ...settings.headers }
  if (body === null && settings.status !== 204 && settings.status !== 304) headers['content-length'] = '0'
  const answer = new GatewayAnswer(settings.status, Object.freeze(headers), body)
  return () => {
    throw answer
  }
}

/**
 * The redirect target. `keepPath`: the part of the request path after the route's match.path
 * prefix (the whole path when the route has none) is appended to `to`, so /docs/v1/intro under
 * `match.path: /docs/v1` and `to: https://docs.example.com/v2` goes to …/v2/intro. `keepQuery`:
 * the request's query follows. The path appended is the normalised one (src/routing/
 * normalize-path.ts), so dot segments and encoded slashes cannot walk out of `to`.
 */
function redirectStage(settings: RouteRedirectSettings, route: CompiledRoute): StageRun {
  const status = settings.status
  const to = settings.to
  const body = null
  if (!settings.keepPath && !settings.keepQuery) {
    const fixed = new GatewayAnswer(status, Object.freeze({ location: to, 'content-length': '0' }), body)
    return () => {
      throw fixed
    }
  }
  const prefix = route.settings.match.path === undefined ? '' : normalizeConfiguredPath(route.settings.match.path)
  const strip = prefix === '/' ? 0 : prefix.length
  const base = to.endsWith('/') && settings.keepPath ? to.slice(0, -1) : to
  const keepPath = settings.keepPath
  const keepQuery = settings.keepQuery
  return (_request, ctx) => {
    let location = base
    if (keepPath) {
      const rest = ctx.path.slice(strip)
      location += rest === '' || rest.charCodeAt(0) === 0x2f ? rest : `/${rest}`
      if (location === '') location = '/'
    }
    if (keepQuery && ctx.query !== '') location += `?${ctx.query}`
    throw new GatewayAnswer(status, { location, 'content-length': '0' }, body)
  }
}

export function createRouteActionFeature(): Feature {
  return {
    name: 'route-action',
    prepare() {
      return {
        compileRoute(route: CompiledRoute): RouteFeature | undefined {
          const s = route.settings
          if (s.respond !== undefined) return { stage: { phase: 'late', run: respondStage(s.respond) } }
          if (s.redirect !== undefined) return { stage: { phase: 'late', run: redirectStage(s.redirect, route) } }
          return undefined
        },
      }
    },
  }
}
