/**
 * Response caching for routes with `cache` set: builds the store from the global `cache`
 * settings (memory by default, Redis to share entries between gateway instances), puts the
 * cache middleware in the forward chain, registers the purge service for the admin API and
 * exports the store's gauges:
 *   switchyard_cache_requests_total{route,result}  (counter created by src/metrics.ts)
 *   switchyard_cache_bytes                         bytes held
 *   switchyard_cache_entries                       entries held
 *   switchyard_cache_evictions_total               entries evicted to stay within maxSize
 *
 * The store is created once per gateway; `cache.store`, `cache.maxSize` and
 * `cache.maxEntrySize` changed by a reload apply after a restart (logged), while route-level
 * `cache` settings follow reloads at once (they are read from the matched route).
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, type Registry } from 'prom-client'
import type { CacheSettings } from '../src/config/model.js'
import type { GatewayHandle } from '../src/gateway-handle.js'
import { createCacheMiddleware } from '../src/cache/cache-forward.js'
import { MemoryStore } from '../src/cache/memory-store.js'
import { RedisStore } from '../src/cache/redis-store.js'
import { registerCacheService, storeService } from '../src/cache/registry.js'
import type { CacheStore } from '../src/cache/store.js'

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
    help: 'Bytes held by the response cache (bodies, headers, keys)',
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

const registered = new WeakSet<GatewayHandle>()

async function cachePlugin(app: FastifyInstance): Promise<void> {
  const gw = app.switchyard
  // The HTTP and TLS data planes share one handle, one chain and one store.
  if (registered.has(gw)) return
  registered.add(gw)
  const settings = gw.state.settings.cache
  const store = createStore(settings, (err) => gw.log.warn({ err: err.message }, 'cache store connection error'))
  // Start with the shared store connected when it can be, but never hold the gateway back for
  // long: while Redis is away, cached routes simply miss.
  if (store instanceof RedisStore && !(await store.waitReady(2000))) {
    gw.log.warn({ redis: settings.redis }, 'cache store not reachable yet; serving without the cache until it is')
  }
  registerStoreMetrics(gw.metrics.registry, store)
  const { middleware } = createCacheMiddleware({ store, maxEntrySize: settings.maxEntrySize, requests: gw.metrics.cacheRequests, log: gw.log })
  // Cached routes, and every route while any route caches: an unsafe request anywhere may
  // invalidate stored entries of its URL (RFC 9111 §4.4).
  gw.useForward(middleware, (route, state) => route.settings.cache !== undefined || state.settings.routes.some((r) => r.cache !== undefined))
  registerCacheService(gw, storeService(store))
  gw.onReload((next) => {
    const n = next.settings.cache
    if (n.store !== settings.store || n.redis !== settings.redis || n.maxSize !== settings.maxSize || n.maxEntrySize !== settings.maxEntrySize) {
      gw.log.warn('cache store settings (cache.store, redis, maxSize, maxEntrySize) changed: they apply after a restart')
    }
  })
  app.addHook('onClose', async () => {
    await store.close()
  })
}

export default fp(cachePlugin, { name: 'switchyard-cache', fastify: '5.x' })
