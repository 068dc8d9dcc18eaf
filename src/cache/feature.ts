/**
 * Response caching as a feature: builds the store from the global `cache` settings (memory by
 * default, Redis to share entries between gateway instances) once per gateway, puts the cache
 * middleware in the forward chain of the routes that need it, registers the purge service for
 * the admin API and exports the store's gauges:
 *   switchyard_cache_requests_total{route,result}  (counter created by src/metrics.ts)
 *   switchyard_cache_bytes                         bytes held
 *   switchyard_cache_entries                       entries held
 *   switchyard_cache_evictions_total               entries evicted to stay within maxSize
 *
 * `cache.store`, `cache.maxSize` and `cache.maxEntrySize` changed by a reload apply after a
 * restart (logged), while route-level `cache` settings follow reloads at once.
 */
import { Counter, Gauge, type Registry } from 'prom-client'
import type { CacheSettings } from '../config/model.js'
import type { Feature, RouteFeature } from '../pipeline/feature.js'
import { createCacheMiddleware } from './cache-forward.js'
import { MemoryStore } from './memory-store.js'
import { RedisStore } from './redis-store.js'
import { registerCacheService, storeService } from './registry.js'
import { RemoteStore } from './shared-store.js'
import type { CacheStore } from './store.js'

export function createStore(settings: CacheSettings, onError: (err: Error) => void): CacheStore {
  if (settings.store === 'redis') return new RedisStore({ url: settings.redis, maxEntrySize: settings.maxEntrySize, onError })
  return new MemoryStore({ maxSize: settings.maxSize, maxEntrySize: settings.maxEntrySize })
}

function registerStoreMetrics(registry: Registry, store: CacheStore): void {
  // One stats read per scrape, shared by the three series.
  let pending: ReturnType<CacheStore['stats']> | undefined
  const stats = () => (pending ??= store.stats().finally(() => setImmediate(() => (pending = undefined))))
  new Gauge({
    name: 'switchyard_cache_bytes',
    help: 'Bytes held by the response cache (bodies, headers, keys, fixed per-entry overhead)',
    registers: [registry],
    async collect() {
      this.set((await stats()).bytes)
    },
  })
  new Gauge({
    name: 'switchyard_cache_entries',
    help: 'Responses held by the cache',
    registers: [registry],
    async collect() {
      this.set((await stats()).entries)
    },
  })
  let reported = 0
  new Counter({
    name: 'switchyard_cache_evictions_total',
    help: 'Cached responses evicted to stay within cache.maxSize',
    registers: [registry],
    async collect() {
      const n = (await stats()).evictions
      if (n > reported) this.inc(n - reported)
      reported = Math.max(reported, n)
    },
  })
}

export interface CacheFeatureDeps {
  readonly settings: CacheSettings
  readonly registry: Registry
  readonly requests: Counter<'route' | 'result'>
  readonly log: { warn(obj: object, msg?: string): void; warn(msg: string): void; debug(obj: object, msg?: string): void; info(obj: object, msg?: string): void; error(obj: object, msg?: string): void }
  /** The object the admin API looks the purge service up by. */
  readonly owner: object
  /**
   * The memory store as this thread sees it when another thread owns it (a worker thread's
   * RemoteStore, src/cache/shared-store.ts): used instead of a store of its own (the process
   * started with `cache.store: memory`); its gauges are the owner's to export.
   */
  readonly sharedStore?: CacheStore
}

export function createCacheFeature(deps: CacheFeatureDeps): Feature {
  const settings = deps.settings
  const shared = deps.sharedStore
  const store = shared ?? createStore(settings, (err) => deps.log.warn({ err: err.message }, 'cache store connection error'))
  if (shared === undefined) registerStoreMetrics(deps.registry, store)
  const processFills = shared instanceof RemoteStore ? shared : undefined
  const { middleware, fills } = createCacheMiddleware({
    store,
    maxEntrySize: settings.maxEntrySize,
    maxSize: settings.maxSize,
    requests: deps.requests,
    log: deps.log as never,
    ...(processFills !== undefined ? { processFills } : {}),
  })
  registerCacheService(deps.owner, { ...storeService(store), fills })
  const compiled: RouteFeature = Object.freeze({ middleware })
  return {
    name: 'cache',
    prepare(next, current) {
      const n = next.cache
      if (current !== undefined && (n.store !== settings.store || n.redis !== settings.redis || n.maxSize !== settings.maxSize || n.maxEntrySize !== settings.maxEntrySize)) {
        deps.log.warn('cache store settings (cache.store, redis, maxSize, maxEntrySize) changed: they apply after a restart')
      }
      // Cached routes, and every route while any route caches: an unsafe request anywhere may
      // invalidate stored entries of its URL (RFC 9111 §4.4).
      const anyCached = next.routes.some((r) => r.cache !== undefined)
      return { compileRoute: (route) => (anyCached ? compiled : undefined) }
    },
    async start() {
      // Start with the shared store connected when it can be, but never hold the gateway back
      // for long: while Redis is away, cached routes simply miss.
      if (store instanceof RedisStore && !(await store.waitReady(2000))) {
        deps.log.warn({ redis: settings.redis }, 'cache store not reachable yet; serving without the cache until it is')
      }
    },
    async close() {
      await store.close()
    },
  }
}
