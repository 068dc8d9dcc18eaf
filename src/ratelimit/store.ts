/**
 * Rate-limit counter stores, on @fastify/rate-limit's store contract (`incr(key, cb, window,
 * max)` answering `{ current, ttl }`, `child(routeOptions)`): its LocalStore in memory, or its
 * RedisStore (one atomic Lua INCR+PEXPIRE per request) on an ioredis client shared by every
 * gateway instance pointed at the same Redis, so they spend one budget.
 *
 * The Redis client is tuned to fail fast rather than queue: while Redis is unreachable a
 * command errors at once (no offline queue, short command timeout), so the limiter can fail open
 * (or closed, per route) without holding requests.
 */
import { Redis } from 'ioredis'
import type { StoreSettings } from '../config/model.js'

/** What @fastify/rate-limit is registered with, besides the limiter functions. */
export interface RateLimitStoreOptions {
  /** An ioredis client for @fastify/rate-limit's RedisStore; absent = its in-memory LocalStore. */
  readonly redis?: Redis
  readonly nameSpace?: string
  /** LocalStore capacity: buckets beyond this evict the least recently used. */
  readonly cache?: number
}

export interface RateLimitStoreHandle {
  readonly kind: 'memory' | 'redis'
  readonly pluginOptions: RateLimitStoreOptions
  /** The Redis client, when `store: redis`. */
  readonly redis: Redis | undefined
  /** Resolves when the store can take commands (Redis connected) or after `waitMs`, whichever is first. */
  ready(waitMs: number): Promise<boolean>
  close(): Promise<void>
}

export const REDIS_KEY_PREFIX = 'switchyard:rl:'

export interface RedisStoreTuning {
  /** A command slower than this counts as a store failure, ms. */
  readonly commandTimeout?: number
  readonly connectTimeout?: number
  /** Called on client errors (connection refused, resets); the caller throttles its logging. */
  readonly onClientError?: (err: Error) => void
}

export function createRateLimitStore(settings: StoreSettings, tuning: RedisStoreTuning = {}): RateLimitStoreHandle {
  if (settings.store === 'memory') {
    return {
      kind: 'memory',
      pluginOptions: { cache: 100_000 },
      redis: undefined,
      ready: () => Promise.resolve(true),
      close: () => Promise.resolve(),
    }
  }
  const redis = new Redis(settings.redis, {
    // Never queue commands while disconnected: a queued INCR would hold the request until Redis
    // returns. Failing at once lets the route's onStoreError policy decide.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: tuning.commandTimeout ?? 250,
    connectTimeout: tuning.connectTimeout ?? 1000,
    // Keep reconnecting for as long as the gateway runs, backing off to 2 s.
    retryStrategy: (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 6), 2000),
    lazyConnect: false,
  })
  // Without a listener ioredis reports every failed reconnect as an unhandled error event.
  redis.on('error', (err: Error) => tuning.onClientError?.(err))
  return {
    kind: 'redis',
    pluginOptions: { redis, nameSpace: REDIS_KEY_PREFIX },
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
    async close() {
      // quit() waits for a reply a dead server never sends; disconnect() just closes.
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect())
      else redis.disconnect()
    },
  }
}
