/**
 * The default CacheStore: lru-cache bounded by bytes. Entries over `maxEntrySize` are refused;
 * storing past `maxSize` evicts least recently used entries. The url, path and tag indexes that
 * serve Vary lookups, invalidation and purges are maintained from lru-cache's `dispose`, the one
 * place every removal passes through (eviction, expiry, delete, replace), so they never point
 * at entries that are gone.
 */
import { LRUCache } from 'lru-cache'
import { entrySize, type CacheEntry, type CacheStats, type CacheStore } from './store.js'

export interface MemoryStoreOptions {
  /** Total bytes held (as counted by `entrySize`). */
  readonly maxSize: number
  /** Larger entries are refused. */
  readonly maxEntrySize: number
  /** Clock for retention, in ms (performance.now-like); injectable for tests. */
  readonly now?: () => number
}

interface UrlIndex {
  vary: readonly string[]
  readonly keys: Set<string>
}

export class MemoryStore implements CacheStore {
  readonly #lru: LRUCache<string, CacheEntry>
  readonly #maxEntrySize: number
  readonly #byUrl = new Map<string, UrlIndex>()
  readonly #byPath = new Map<string, Set<string>>()
  readonly #byTag = new Map<string, Set<string>>()
  #evictions = 0

  constructor(opts: MemoryStoreOptions) {
    this.#maxEntrySize = Math.min(opts.maxEntrySize, opts.maxSize)
    this.#lru = new LRUCache<string, CacheEntry>({
      maxSize: opts.maxSize,
      maxEntrySize: this.#maxEntrySize,
      sizeCalculation: entrySize,
      // Retention is per entry (set's ttl); expired entries go lazily on access or by LRU
      // pressure: no purge timers to own.
      ttlAutopurge: false,
      // Read the clock on every check: no cached-time timer, and an injected clock is honoured.
      ttlResolution: 0,
      allowStale: false,
      perf: opts.now ? { now: opts.now } : undefined,
      dispose: (entry, key, reason) => {
        if (reason === 'evict') this.#evictions++
        this.#unindex(key, entry)
      },
    })
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    return this.#lru.get(key)
  }

  async lookup(urlKey: string, keyFor: (vary: readonly string[]) => string): Promise<CacheEntry | undefined> {
    const idx = this.#byUrl.get(urlKey)
    if (!idx) return undefined
    return this.#lru.get(keyFor(idx.vary))
  }

  async set(stored: CacheEntry, retainMs: number): Promise<boolean> {
    if (retainMs <= 0 || entrySize(stored) > this.#maxEntrySize) return false
    const entry = ownedBody(stored)
    // Remove the old value first so dispose unindexes it before the new one is indexed.
    this.#lru.delete(entry.key)
    this.#lru.set(entry.key, entry, { ttl: Math.ceil(retainMs) })
    if (this.#lru.peek(entry.key) !== entry) return false
    let u = this.#byUrl.get(entry.urlKey)
    if (!u) this.#byUrl.set(entry.urlKey, (u = { vary: entry.vary, keys: new Set() }))
    u.vary = entry.vary
    u.keys.add(entry.key)
    addTo(this.#byPath, entry.path, entry.key)
    for (const tag of entry.tags) addTo(this.#byTag, tag, entry.key)
    return true
  }

  async delete(key: string): Promise<boolean> {
    return this.#lru.delete(key)
  }

  async deleteUrl(urlKey: string): Promise<number> {
    const u = this.#byUrl.get(urlKey)
    return u ? this.#deleteAll([...u.keys]) : 0
  }

  async keysByPrefix(prefix: string): Promise<string[]> {
    const out: string[] = []
    for (const [path, keys] of this.#byPath) if (path.startsWith(prefix)) for (const k of keys) out.push(k)
    return out
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    return this.#deleteAll(await this.keysByPrefix(prefix))
  }

  async keysByTag(tag: string): Promise<string[]> {
    return [...(this.#byTag.get(tag) ?? [])]
  }

  async deleteByTag(tag: string): Promise<number> {
    return this.#deleteAll(await this.keysByTag(tag))
  }

  async clear(): Promise<number> {
    const n = this.#lru.size
    this.#lru.clear()
    return n
  }

  async stats(): Promise<CacheStats> {
    return { entries: this.#lru.size, bytes: this.#lru.calculatedSize, evictions: this.#evictions }
  }

  async close(): Promise<void> {
    this.#lru.clear()
  }

  #deleteAll(keys: readonly string[]): number {
    let n = 0
    for (const k of keys) if (this.#lru.delete(k)) n++
    return n
  }

  #unindex(key: string, entry: CacheEntry): void {
    const u = this.#byUrl.get(entry.urlKey)
    if (u) {
      u.keys.delete(key)
      if (u.keys.size === 0) this.#byUrl.delete(entry.urlKey)
    }
    removeFrom(this.#byPath, entry.path, key)
    for (const tag of entry.tags) removeFrom(this.#byTag, tag, key)
  }
}

/**
 * The entry with a body that owns its memory. A small Buffer from Buffer.concat/allocUnsafe is a
 * view into Node's shared 8 KiB pool slab; keeping it would keep the whole slab (and whatever
 * short-lived chunks share it) alive for the entry's lifetime, unaccounted.
 */
function ownedBody(entry: CacheEntry): CacheEntry {
  const b = entry.body
  if (b.byteOffset === 0 && b.buffer.byteLength === b.length) return entry
  const own = Buffer.allocUnsafeSlow(b.length)
  b.copy(own)
  return { ...entry, body: own }
}

function addTo(index: Map<string, Set<string>>, name: string, key: string): void {
  let s = index.get(name)
  if (!s) index.set(name, (s = new Set()))
  s.add(key)
}

function removeFrom(index: Map<string, Set<string>>, name: string, key: string): void {
  const s = index.get(name)
  if (!s) return
  s.delete(key)
  if (s.size === 0) index.delete(name)
}
