/**
 * Rate-limit counter stores: @fastify/rate-limit's own LocalStore (memory) and RedisStore (one
 * atomic Lua INCR+PEXPIRE per request), created once per gateway and handed to the plugin as its
 * `store`, so every listener of one gateway (HTTP and TLS) spends one budget, and with Redis
 * every gateway instance pointed at the same server does too.
 *
 * The Redis client is tuned to fail fast rather than queue: while Redis is unreachable a command
 * errors at once (no offline queue, short command timeout), so the limiter can fail open (or
 * closed, per route) without holding requests.
 */
import { createRequire } from 'node:module'
import { Redis } from 'ioredis'
import type { StoreSettings } from '../config/model.js'

/**
 * @fastify/rate-limit's store contract (types/index.d.ts, store/LocalStore.js).
 * - `incr(key, cb, timeWindow, max)`: count one hit on `key` in a fixed window of `timeWindow`
 *   ms that starts at the key's first hit; answer `{ current, ttl }` (hits so far in this window,
 *   ms until it resets), or an error when the store cannot count (the caller decides open/closed).
 * - `child(routeOptions)`: a store for per-route options; unused here (one store, route in the key).
 */
export interface RateLimitStore {
  incr(key: string, cb: (err: Error | null, res?: { current: number; ttl: number }) => void, timeWindow: number, max: number): void
  child(routeOptions: unknown): RateLimitStore
}

type LocalStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, cache?: number) => RateLimitStore
type RedisStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, redis: Redis, key?: string) => RateLimitStore

// The store classes are CommonJS files of the package without type declarations.
const require = createRequire(import.meta.url)
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as LocalStoreCtor
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as RedisStoreCtor

export const REDIS_KEY_PREFIX = 'switchyard:rl:'
/** Buckets held in memory; beyond this the least recently used are forgotten. */
export const MEMORY_BUCKETS = 100_000

export interface RateLimitStoreHandle {
  readonly kind: 'memory' | 'redis'
  readonly store: RateLimitStore
  /** The Redis client, when `store: redis`. */
  readonly redis: Redis | undefined
  /** Resolves true once Redis is connected (memory: at once), false after `waitMs`. */
  ready(waitMs: number): Promise<boolean>
  close(): Promise<void>
}

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
      store: new LocalStore(false, false, MEMORY_BUCKETS),
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
  })
  // Without a listener ioredis reports every failed reconnect as an unhandled error event.
  redis.on('error', (err: Error) => tuning.onClientError?.(err))
  return {
    kind: 'redis',
    store: new RedisStore(false, false, redis, REDIS_KEY_PREFIX),
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
