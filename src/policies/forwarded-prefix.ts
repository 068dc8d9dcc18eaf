/**
 * `X-Forwarded-Prefix`: the matched `match.path` prefix, sent upstream whenever `rewritePrefix`
 * replaces it (as Traefik's StripPrefix and Spring's ForwardedHeaderFilter use it), so an
 * application served under /api that sees /users can still build links to /api/users. A
 * client's own X-Forwarded-Prefix is dropped unless it comes from a trusted proxy
 * (src/proxy/headers.ts). (`passHost`, the client's Host upstream, is src/proxy/forward.ts's.)
 *
 * The prefix is computed once per route; a route without `rewritePrefix` runs nothing.
 */
import type { Feature, RouteFeature, StageRun } from '../pipeline/feature.js'
import type { CompiledRoute } from '../routing/types.js'
import { normalizeConfiguredPath } from '../routing/normalize-path.js'

function stageFor(route: CompiledRoute): StageRun | undefined {
  const s = route.settings
  if (s.rewritePrefix === undefined || s.match.path === undefined) return undefined
  const prefix = normalizeConfiguredPath(s.match.path).replace(/\/$/, '') || '/'
  return (_request, ctx) => {
    ;(ctx.upstreamHeaders ??= {})['x-forwarded-prefix'] = prefix
  }
}

export function createForwardedPrefixFeature(): Feature {
  return {
    name: 'forwarded-prefix',
    prepare() {
      return {
        compileRoute(route: CompiledRoute): RouteFeature | undefined {
          const run = stageFor(route)
          return run === undefined ? undefined : { stage: { phase: 'late', run } }
        },
      }
    },
  }
}
