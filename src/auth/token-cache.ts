/**
 * Verified tokens, remembered until they expire, so a hot token costs one Map lookup instead of
 * a signature check, two base64 decodes and two JSON parses per request.
 *
 * Why not fast-jwt's own `cache` option: its cache sits inside each compiled fast-jwt verifier,
 * which for a JWKS is reached only after the (asynchronous) key lookup, so a cache hit would still
 * cost a promise and a header parse; its default key builder hashes every token (SHA-2, about as
 * costly as an HS256 check); and its clock cannot be injected. This cache is keyed by the token
 * itself (exact string equality, so no collisions), bounded in entries and in bytes, and:
 *
 * - an entry never outlives the token: it expires at `exp` + clockTolerance (the instant the
 *   verifier would start refusing it), and at most `maxTtl` after it was verified;
 * - an entry never outlives its verifier: each compiled verifier has its own cache (a changed
 *   `jwt` section starts empty), cleared when the verifier is closed;
 * - an entry never outlives its key: JWKS entries remember the key object that verified them and
 *   are only used while the key set still serves that same object for the token's `kid` (a
 *   rotation that drops or replaces the key makes the token verify again);
 * - failures are never cached: a bad token is refused by the full check every time, and cannot
 *   push good tokens out.
 */
import { LRUCache } from 'lru-cache'
import type { JwksKey } from './jwks.js'

export interface CachedToken {
  readonly claims: Readonly<Record<string, unknown>>
  /** Epoch ms after which the entry is not used. */
  readonly expiresAt: number
  /** The JWKS key that verified the token, and the `kid` it was looked up by. */
  readonly key: JwksKey | undefined
  readonly kid: string | undefined
}

export interface TokenCacheOptions {
  /** Entries held; 0 disables the cache. */
  readonly size: number
  /** Bytes of token text held (the claims are not counted: they are at most as large). */
  readonly maxBytes: number
  /** Cap on any entry's life, ms, also for tokens without `exp`. */
  readonly maxTtl: number
  /** ms added to `exp`, as the verifier allows. */
  readonly clockTolerance: number
  readonly now: () => number
}

export const TOKEN_CACHE_DEFAULTS = {
  size: 10_000,
  maxBytes: 32 * 1024 * 1024,
  maxTtl: 600_000,
} as const

// Per-entry overhead besides the token text (entry object, list links), for the byte bound.
const ENTRY_OVERHEAD = 128

export interface TokenCache {
  /** The entry for `token` when it is still valid at `now`, else undefined (and forgotten). */
  get(token: string): CachedToken | undefined
  /** Remember a token that just verified. */
  set(token: string, claims: Readonly<Record<string, unknown>>, key: JwksKey | undefined, kid: string | undefined): void
  readonly size: number
  clear(): void
}

const DISABLED: TokenCache = {
  get: () => undefined,
  set: () => {},
  size: 0,
  clear: () => {},
}

export function createTokenCache(options: TokenCacheOptions): TokenCache {
  if (!(options.size > 0)) return DISABLED
  const { now, maxTtl, clockTolerance } = options
  const lru = new LRUCache<string, CachedToken>({
    max: options.size,
    maxSize: options.maxBytes,
    sizeCalculation: (_v, k) => k.length + ENTRY_OVERHEAD,
  })
  return {
    get(token) {
      const hit = lru.get(token)
      if (hit === undefined) return undefined
      if (now() > hit.expiresAt) {
        lru.delete(token)
        return undefined
      }
      return hit
    },
    set(token, claims, key, kid) {
      const at = now()
      let expiresAt = at + maxTtl
      const exp = claims.exp
      if (typeof exp === 'number') expiresAt = Math.min(expiresAt, exp * 1000 + clockTolerance)
      // Already at its end (a token verified within the tolerance of its expiry): nothing to keep.
      if (expiresAt <= at) return
      // Every request with this token now shares the object: nobody may change it.
      lru.set(token, { claims: Object.freeze(claims), expiresAt, key, kid })
    },
    get size() {
      return lru.size
    },
    clear() {
      lru.clear()
    },
  }
}
