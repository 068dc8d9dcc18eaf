/**
 * Where the admin API finds a gateway's cache: the cache plugin registers one service per
 * gateway handle (the HTTP and TLS data planes share it), the purge endpoint looks it up.
 * A WeakMap keyed by the handle, so nothing outlives the gateway.
 */
import type { FillBudget } from './fill-budget.js'
import type { CacheStore } from './store.js'

export interface PurgeRequest {
  /** Entries whose normalised request path starts with this string. */
  readonly prefix?: string
  /** Entries tagged with this value by the upstream's `Cache-Tag` header. */
  readonly tag?: string
}

export interface CacheService {
  readonly store: CacheStore
  /** Remove the selected entries (all when neither prefix nor tag is given); resolves how many. */
  purge(request: PurgeRequest): Promise<number>
  /** In-flight fills against their bound (the memory cache's admission control). */
  readonly fills?: FillBudget
}

const services = new WeakMap<object, CacheService>()

export function registerCacheService(owner: object, service: CacheService): void {
  services.set(owner, service)
}

export function cacheServiceOf(owner: object): CacheService | undefined {
  return services.get(owner)
}

export function storeService(store: CacheStore): CacheService {
  return {
    store,
    purge(r) {
      if (r.tag !== undefined) return store.deleteByTag(r.tag)
      if (r.prefix !== undefined) return store.deleteByPrefix(r.prefix)
      return store.clear()
    },
  }
}
