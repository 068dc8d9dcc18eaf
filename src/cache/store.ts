/**
 * The cache store contract. A store holds complete responses (headers and a buffered body) under
 * a key computed by src/cache/key.ts, with the freshness facts computed by src/cache/policy.ts.
 * It knows nothing of HTTP semantics: whether an entry may be served is the policy's decision,
 * never the store's. Every method is async so a networked store (Redis) fits the same contract.
 *
 * Two keys matter per entry (RFC 9111 §4.1):
 *   - `urlKey`, the primary key: one target resource as the gateway forwards it. All variants of
 *     one resource share it, so invalidation (§4.4) and Vary lookups work on it.
 *   - `key`, the full key: `urlKey` plus the values of the request headers the response's `Vary`
 *     names (the secondary key). Entries are stored and fetched by it.
 */
import type { FreshnessFacts } from './policy.js'

/** One stored response. Plain data: serialisable as-is (the Redis store writes it as JSON + body). */
export interface CacheEntry {
  /** Full key (primary + Vary part); unique per entry. */
  readonly key: string
  /** Primary key shared by every variant of the resource. */
  readonly urlKey: string
  /** The normalised request path (no query): what prefix purges match on. */
  readonly path: string
  /** Purge tags from the upstream's `Cache-Tag` response header. */
  readonly tags: readonly string[]
  /** Lower-cased request header names from the response's `Vary`, in order; empty when none. */
  readonly vary: readonly string[]
  readonly status: number
  /** Response headers as stored: lower-case names, hop-by-hop and `Age` removed. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>
  /** The whole body (empty for bodiless statuses). */
  readonly body: Buffer
  /** When and how long the entry is fresh, and the stale windows (see policy.ts). */
  readonly freshness: FreshnessFacts
}

/** What a store holds now; exported as gauges. */
export interface CacheStats {
  /** Entries held. */
  readonly entries: number
  /** Bytes held, as counted by `entrySize` (body + headers + keys). */
  readonly bytes: number
  /** Entries removed to make room (not by expiry or purge) since the store was created. */
  readonly evictions: number
}

export interface CacheStore {
  /** The entry stored under this full key, or undefined when absent or past its retention. */
  get(key: string): Promise<CacheEntry | undefined>

  /**
   * Vary-aware lookup of a resource: reads the Vary header names recorded for `urlKey` (those of
   * the most recently stored variant, RFC 9111 §4.1 allows choosing the most recent), asks
   * `keyFor(names)` for the full key of the presented request, and returns that entry. Undefined
   * when the resource has no variant stored or none under the computed key.
   */
  lookup(urlKey: string, keyFor: (vary: readonly string[]) => string): Promise<CacheEntry | undefined>

  /**
   * Store (or replace) `entry` under `entry.key` for at most `retainMs` milliseconds (after which
   * `get` no longer returns it). Records `entry.vary` as the resource's Vary names and indexes the
   * entry by url, path and tags. Resolves false, storing nothing, when the entry is larger than
   * the store's per-entry limit; a stored entry may evict least recently used ones to stay within
   * the byte bound.
   */
  set(entry: CacheEntry, retainMs: number): Promise<boolean>

  /** Remove one entry by full key. Resolves true when it was present. */
  delete(key: string): Promise<boolean>

  /** Remove every variant stored under a primary key (RFC 9111 §4.4). Resolves how many. */
  deleteUrl(urlKey: string): Promise<number>

  /** Full keys of the entries whose `path` starts with `prefix` (plain string prefix). */
  keysByPrefix(prefix: string): Promise<string[]>

  /** Remove the entries whose `path` starts with `prefix`. Resolves how many. */
  deleteByPrefix(prefix: string): Promise<number>

  /** Full keys of the entries tagged `tag`. */
  keysByTag(tag: string): Promise<string[]>

  /** Remove the entries tagged `tag`. Resolves how many. */
  deleteByTag(tag: string): Promise<number>

  /** Remove everything. Resolves how many entries were removed. */
  clear(): Promise<number>

  /** Entries and bytes held now, and evictions so far. */
  stats(): Promise<CacheStats>

  /** Release connections and timers. The store is unusable afterwards. */
  close(): Promise<void>
}

/**
 * A fixed allowance per entry for what its byte counts miss: the entry, freshness, headers and
 * array objects, string headers, the body's ArrayBuffer object, lru-cache's per-entry slots and
 * the url/path/tag index records (Map and Set entries). Measured on Node 24 (x64) with
 * process.memoryUsage() after gc: 1,020 to 1,070 bytes per entry beyond the byte counts below
 * for 20,000 entries inserted, whatever the body size; about 1,270 under eviction churn (30,000
 * tiny entries through an 8 MiB store: hash tables and lru-cache's slot arrays stay at their
 * high-water size). test/cache/memory-overhead.test.ts re-measures it. With the former guessed
 * 256 bytes, a store of tiny entries held 2.7× maxSize.
 */
export const ENTRY_OVERHEAD = 1280

/** Bytes an entry is accounted for: body, header names and values, keys, path, tags and overhead. */
export function entrySize(entry: CacheEntry): number {
  let n = ENTRY_OVERHEAD + entry.body.length + entry.key.length + entry.urlKey.length + entry.path.length
  for (const name in entry.headers) {
    const v = entry.headers[name]
    n += name.length + 4
    if (typeof v === 'string') n += v.length
    else if (v !== undefined) for (const s of v) n += s.length + 4
  }
  for (const t of entry.tags) n += t.length + 8
  for (const v of entry.vary) n += v.length + 8
  return n
}
