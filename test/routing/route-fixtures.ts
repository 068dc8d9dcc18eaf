/** Builds normalised RouteSettings for routing tests without going through the config loader. */
import type { RouteMatchSettings, RouteSettings, SplitTarget } from '../../src/config/model.js'

export function route(name: string, match: RouteMatchSettings, extra: Partial<RouteSettings> = {}): RouteSettings {
  const split: readonly SplitTarget[] = extra.split ?? [{ pool: `${name}-pool`, weight: 1 }]
  return {
    name,
    match,
    stickyCookie: { ttl: 3_600_000 },
    websocket: false,
    headers: { request: { set: {}, remove: [] }, response: { set: {}, remove: [] } },
    ...extra,
    split,
  }
}
