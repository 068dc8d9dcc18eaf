/**
 * `apiKey: { header, query, keys: [{ name, hash: "sha256:<hex>" }] }`: API-key authentication
 * per route (phase `auth`).
 *
 * Keys are configured as SHA-256 hashes, so the configuration (and the admin API, and a leaked
 * backup) never holds a usable key. A request's key is hashed once and compared with every
 * configured hash with crypto.timingSafeEqual, without stopping at the first match, so the time
 * taken says nothing about which key or how much of it matched. Keys are high-entropy secrets
 * (unlike passwords), so a fast hash is the right one: there is nothing to brute-force.
 *
 * Missing key: 401 SWITCHYARD_API_KEY_MISSING; unknown key: 401 SWITCHYARD_API_KEY_INVALID;
 * both never forwarded. A good key's name goes to ctx.consumer (rate-limit key `apikey`, the
 * access log's `consumer`). The key header is removed from the upstream request (src/proxy/
 * forward.ts routePlan): backends never see the secret.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { RouteApiKeySettings } from '../config/model.js'
import type { Feature, RouteFeature, StageRun } from '../pipeline/feature.js'
import type { CompiledRoute } from '../routing/types.js'
import { ERR_API_KEY_INVALID, ERR_API_KEY_MISSING } from './errors.js'

/** Longer values are refused without hashing: no key needs more, and it bounds the work per request. */
export const MAX_API_KEY_LENGTH = 512

/** SHA-256 of `key` as hex: what `apiKey.keys[].hash` holds after `sha256:`. */
export function apiKeyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

function firstQueryValue(query: string, name: string): string | undefined {
  if (query === '') return undefined
  const v = new URLSearchParams(query).get(name)
  return v === null || v === '' ? undefined : v
}

export function compileApiKeyStage(s: RouteApiKeySettings): StageRun {
  const digests = s.keys.map((k) => Buffer.from(k.hash, 'hex'))
  const names = s.keys.map((k) => k.name)
  const header = s.header
  const query = s.query
  return (request, ctx) => {
    const h = request.headers[header]
    let key = typeof h === 'string' ? h : Array.isArray(h) ? h[0] : undefined
    if ((key === undefined || key === '') && query !== undefined) key = firstQueryValue(ctx.query, query)
    if (key === undefined || key === '') throw new ERR_API_KEY_MISSING()
    if (key.length > MAX_API_KEY_LENGTH) throw new ERR_API_KEY_INVALID()
    const digest = createHash('sha256').update(key, 'utf8').digest()
    let found = -1
    for (let i = 0; i < digests.length; i++) {
      // Every hash is compared: no early exit.
      if (timingSafeEqual(digest, digests[i]!) && found < 0) found = i
    }
    if (found < 0) throw new ERR_API_KEY_INVALID()
    ctx.consumer = names[found]
  }
}

export function createApiKeyFeature(): Feature {
  return {
    name: 'api-key',
    prepare() {
      return {
        compileRoute(route: CompiledRoute): RouteFeature | undefined {
          const s = route.settings.apiKey
          return s === undefined ? undefined : { stage: { phase: 'auth', run: compileApiKeyStage(s) } }
        },
      }
    },
  }
}
