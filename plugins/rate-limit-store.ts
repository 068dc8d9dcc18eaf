/**
 * Adapter: @fastify/rate-limit's own counter stores behind the core's RateLimitStoreHandle
 * (src/ratelimit/store.ts). LocalStore (memory, calls back synchronously) or RedisStore (one
 * atomic Lua INCR+PEXPIRE per request), created once per gateway and shared by its listeners.
 *
 * The Redis client is tuned to fail fast rather than queue: while Redis is unreachable a command
 * errors at once (no offline queue, short command timeout), so the limiter can fail open (or
 * closed, per route) without holding requests.
 */
import { createRequire } from 'node:module'
import type { Redis } from 'ioredis'
import { lazyModule } from '../src/lazy-module.js'
import type { StoreSettings } from '../src/config/model.js'
import {
  MEMORY_BUCKETS,
  REDIS_KEY_PREFIX,
  type RateLimitStore,
  type RateLimitStoreHandle,
  type RedisStoreTuning,
} from '../src/ratelimit/store.js'

export { MEMORY_BUCKETS, REDIS_KEY_PREFIX, type RateLimitStore, type RateLimitStoreHandle, type RedisStoreTuning }

type LocalStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, cache?: number) => RateLimitStore
type RedisStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, redis: Redis, key?: string) => RateLimitStore

// The store classes are CommonJS files of the package without type declarations.
const require = createRequire(import.meta.url)
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as LocalStoreCtor
// Redis (ioredis and the RedisStore) is loaded only when a configuration asks for it.
const ioredis = lazyModule<typeof import('ioredis')>('ioredis')
const redisStore = lazyModule<RedisStoreCtor>('@fastify/rate-limit/store/RedisStore.js')

/** A Redis-backed handle: `redis` is the ioredis client. */
export interface RedisRateLimitStoreHandle extends RateLimitStoreHandle {
  readonly kind: 'redis'
  readonly redis: Redis
}

export function createRateLimitStore(settings: StoreSettings, tuning: RedisStoreTuning = {}): RateLimitStoreHandle {
  if (settings.store === 'memory') {
    return {
      kind: 'memory',
      store: new LocalStore(false, false, MEMORY_BUCKETS),
      redis: undefined,
      ready: () => Promise.resolve(true),
      onClientError: () => () => {},
      close: () => Promise.resolve(),
    }
  }
  const redis = new (ioredis().Redis)(settings.redis, {
    // Never queue commands while disconnected: a queued INCR would hold the request until Redis
    // returns. Failing at once lets the route's onStoreError policy decide.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: tuning.commandTimeout ?? 250,
    connectTimeout: tuning.connectTimeout ?? 1000,
    // Keep reconnecting for as long as the gateway runs, backing off to 2 s.
    retryStrategy: (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 6), 2000),
  })
  const listeners = new Set<(err: Error) => void>()
  // Without a listener ioredis reports every failed reconnect as an unhandled error event.
  redis.on('error', (err: Error) => {
    tuning.onClientError?.(err)
    for (const l of listeners) l(err)
  })
  const handle: RedisRateLimitStoreHandle = {
    kind: 'redis',
    store: new (redisStore())(false, false, redis, REDIS_KEY_PREFIX),
    redis,
    ready(waitMs) {
      if (redis.status === 'ready') return Promise.resolve(true)
      return new Promise<boolean>((resolve) => {
        const done = (ok: boolean): void => {
          clearTimeout(timer)
          redis.off('ready', onReady)
          resolve(ok)
        }
        const onReady = (): void => done(true)
        const timer = setTimeout(() => done(false), waitMs)
        redis.on('ready', onReady)
      })
    },
    onClientError(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async close() {
      // quit() waits for a reply a dead server never sends; disconnect() just closes.
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect())
      else redis.disconnect()
    },
  }
  return handle
}
