/**
 * The rate-limit counter store contract the framework-free core counts with. The stores
 * themselves are @fastify/rate-limit's LocalStore (memory) and RedisStore (one atomic Lua
 * INCR+PEXPIRE per request), built by the adapter plugins/rate-limit-store.ts once per gateway,
 * so every listener of one gateway (HTTP and TLS) spends one budget, and with Redis every gateway
 * instance pointed at the same server does too. Nothing here names a framework: src/ratelimit/
 * never imports @fastify/* (test/features/layering.test.ts).
 */
import type { StoreSettings } from '../config/model.js'

/**
 * @fastify/rate-limit's store contract (types/index.d.ts, store/LocalStore.js).
 * - `incr(key, cb, timeWindow, max)`: count one hit on `key` in a fixed window of `timeWindow`
 *   ms that starts at the key's first hit; answer `{ current, ttl }` (hits so far in this window,
 *   ms until it resets), or an error when the store cannot count (the caller decides open/closed).
 *   LocalStore calls back synchronously (before `incr` returns); RedisStore after the round trip.
 * - `child(routeOptions)`: a store for per-route options; unused here (one store, route in the key).
 */
export interface RateLimitStore {
  incr(key: string, cb: (err: Error | null, res?: { current: number; ttl: number }) => void, timeWindow: number, max: number): void
  child(routeOptions: unknown): RateLimitStore
}

export const REDIS_KEY_PREFIX = 'switchyard:rl:'
/** Buckets held in memory; beyond this the least recently used are forgotten. */
export const MEMORY_BUCKETS = 100_000

export interface RateLimitStoreHandle {
  readonly kind: StoreSettings['store']
  readonly store: RateLimitStore
  /** The Redis client (an ioredis `Redis`), when `store: redis`; typed loosely so the core names no client library. */
  readonly redis: unknown
  /** Resolves true once the store can count (memory: at once; Redis: connected), false after `waitMs`. */
  ready(waitMs: number): Promise<boolean>
  /**
   * Hear about the store's connection errors (refused, reset), besides the tuning's
   * onClientError; returns the unsubscribe function. Memory stores never call it.
   */
  onClientError?(listener: (err: Error) => void): () => void
  close(): Promise<void>
}

export interface RedisStoreTuning {
  /** A command slower than this counts as a store failure, ms. */
  readonly commandTimeout?: number
  readonly connectTimeout?: number
  /** Called on client errors (connection refused, resets); the caller throttles its logging. */
  readonly onClientError?: (err: Error) => void
}

/** What builds a store handle from the top-level `rateLimit` settings (plugins/rate-limit-store.ts). */
export type RateLimitStoreFactory = (settings: StoreSettings, tuning?: RedisStoreTuning) => RateLimitStoreHandle
