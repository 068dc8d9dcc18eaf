/**
 * CacheStore on Redis (ioredis), so gateway instances share entries. Each entry is a hash
 * (`m` = JSON of everything but the body, `b` = the body bytes) with a PX expiry equal to its
 * retention (freshness + stale windows + validator grace, from the policy). The url, path and
 * tag indexes live beside it and are changed only by Lua scripts, so each change is atomic and
 * two gateways never see an entry without its index or the reverse.
 *
 * Index entries of entries Redis expired by TTL (or evicted under maxmemory) are reaped by the
 * scripts from an expiry sorted set: every write and every stats/purge call first removes up to
 * 500 index records whose retention has passed, so bytes and entries stay truthful without a
 * timer. Scripts touch keys they compute from the prefix: a standalone Redis (or one
 * primary), not Redis Cluster.
 */
import type { Redis } from 'ioredis'
import { lazyModule } from '../lazy-module.js'

const ioredis = lazyModule<typeof import('ioredis')>('ioredis')
import { ERR_CACHE_STORE_UNAVAILABLE } from './errors.js'
import { entrySize, type CacheEntry, type CacheStats, type CacheStore } from './store.js'

export interface RedisStoreOptions {
  /** redis://host:port[/db] */
  readonly url: string
  /** Key prefix; lets several gateways fleets share one Redis. */
  readonly prefix?: string
  readonly maxEntrySize: number
  /** Per-command bound, so a stalled (connected but slow) Redis turns into a cache miss quickly. */
  readonly commandTimeout?: number
  /** Connection errors (ioredis reconnects by itself); the gateway logs them. */
  readonly onError?: (err: Error) => void
}

const PRELUDE = `
local p = ARGV[1]
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function drop(k)
  local x = redis.call('HGET', p .. 'x', k)
  if not x then return 0 end
  local d = cjson.decode(x)
  redis.call('HDEL', p .. 'x', k)
  redis.call('ZREM', p .. 'exp', k)
  redis.call('SREM', p .. 'u:' .. d[1], k)
  if redis.call('SCARD', p .. 'u:' .. d[1]) == 0 then redis.call('DEL', p .. 'v:' .. d[1]) end
  redis.call('ZREM', p .. 'paths', d[2] .. '\\n' .. k)
  for _, t in ipairs(d[4]) do redis.call('SREM', p .. 't:' .. t, k) end
  redis.call('DECRBY', p .. 'bytes', d[3])
  return redis.call('DEL', p .. 'e:' .. k)
end
local function reap()
  local ks = redis.call('ZRANGEBYSCORE', p .. 'exp', '-inf', nowms(), 'LIMIT', 0, 500)
  for _, k in ipairs(ks) do drop(k) end
end
local function select(mode, arg)
  if mode == 'key' then return { arg } end
  if mode == 'url' then return redis.call('SMEMBERS', p .. 'u:' .. arg) end
  if mode == 'tag' then return redis.call('SMEMBERS', p .. 't:' .. arg) end
  if mode == 'all' then return redis.call('HKEYS', p .. 'x') end
  local ms = redis.call('ZRANGEBYLEX', p .. 'paths', '[' .. arg, '[' .. arg .. '\\255')
  local out = {}
  for i, m in ipairs(ms) do out[i] = string.sub(m, string.find(m, '\\n', 1, true) + 1) end
  return out
end
`

// ARGV: prefix, key, urlKey, path, tags JSON, vary JSON, meta JSON, body, retainMs, size
const SET_SCRIPT = `${PRELUDE}
reap()
local k = ARGV[2]
drop(k)
local e = p .. 'e:' .. k
redis.call('HSET', e, 'm', ARGV[7], 'b', ARGV[8])
redis.call('PEXPIRE', e, ARGV[9])
local tags = cjson.decode(ARGV[5])
redis.call('HSET', p .. 'x', k, cjson.encode({ ARGV[3], ARGV[4], tonumber(ARGV[10]), tags }))
redis.call('ZADD', p .. 'exp', nowms() + tonumber(ARGV[9]), k)
redis.call('SADD', p .. 'u:' .. ARGV[3], k)
redis.call('SET', p .. 'v:' .. ARGV[3], ARGV[6])
redis.call('ZADD', p .. 'paths', 0, ARGV[4] .. '\\n' .. k)
for _, t in ipairs(tags) do redis.call('SADD', p .. 't:' .. t, k) end
redis.call('INCRBY', p .. 'bytes', ARGV[10])
return 1
`

// ARGV: prefix, mode (key|url|tag|prefix|all), arg. Returns how many live entries were removed.
const DROP_SCRIPT = `${PRELUDE}
reap()
local n = 0
for _, k in ipairs(select(ARGV[2], ARGV[3])) do n = n + drop(k) end
return n
`

// ARGV: prefix, mode, arg. Returns the full keys of live entries selected.
const LIST_SCRIPT = `${PRELUDE}
reap()
local out = {}
for _, k in ipairs(select(ARGV[2], ARGV[3])) do
  if redis.call('EXISTS', p .. 'e:' .. k) == 1 then out[#out + 1] = k end
end
return out
`

const STATS_SCRIPT = `${PRELUDE}
reap()
return { redis.call('HLEN', p .. 'x'), tonumber(redis.call('GET', p .. 'bytes') or '0') }
`

const EVICTED = /evicted_keys:(\d+)/

type Mode = 'key' | 'url' | 'tag' | 'prefix' | 'all'

interface ScriptedRedis extends Redis {
  cacheSet(...args: (string | Buffer | number)[]): Promise<number>
  cacheDrop(prefix: string, mode: Mode, arg: string): Promise<number>
  cacheList(prefix: string, mode: Mode, arg: string): Promise<string[]>
  cacheStats(prefix: string): Promise<[number, number]>
}

export class RedisStore implements CacheStore {
  readonly #redis: ScriptedRedis
  readonly #p: string
  readonly #maxEntrySize: number

  constructor(opts: RedisStoreOptions) {
    this.#p = opts.prefix ?? 'switchyard:cache:'
    this.#maxEntrySize = opts.maxEntrySize
    const redis = new (ioredis().Redis)(opts.url, {
      maxRetriesPerRequest: 1,
      commandTimeout: opts.commandTimeout ?? 1000,
      // Commands issued while (re)connecting wait, but never longer than commandTimeout: a cache
      // outage degrades to misses instead of holding requests.
      enableOfflineQueue: true,
    })
    redis.on('error', (err: Error) => opts.onError?.(err))
    redis.defineCommand('cacheSet', { numberOfKeys: 0, lua: SET_SCRIPT })
    redis.defineCommand('cacheDrop', { numberOfKeys: 0, lua: DROP_SCRIPT })
    redis.defineCommand('cacheList', { numberOfKeys: 0, lua: LIST_SCRIPT })
    redis.defineCommand('cacheStats', { numberOfKeys: 0, lua: STATS_SCRIPT })
    this.#redis = redis as ScriptedRedis
  }

  /** Resolves true once connected, or false after `timeoutMs` (the store keeps reconnecting). */
  waitReady(timeoutMs: number): Promise<boolean> {
    if (this.#redis.status === 'ready') return Promise.resolve(true)
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer)
        this.#redis.off('ready', onReady)
        resolve(ok)
      }
      const onReady = (): void => done(true)
      const timer = setTimeout(() => done(false), timeoutMs)
      timer.unref()
      this.#redis.once('ready', onReady)
    })
  }

  /**
   * Request-path calls fail at once while the connection is down, instead of waiting out the
   * command timeout in the offline queue: a Redis outage must cost misses, not latency.
   */
  #ensureReady(): void {
    if (this.#redis.status !== 'ready') throw new ERR_CACHE_STORE_UNAVAILABLE(`redis ${this.#redis.status}`)
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    this.#ensureReady()
    const [meta, body] = await this.#redis.hmgetBuffer(this.#p + 'e:' + key, 'm', 'b')
    if (!meta || !body) return undefined
    return { ...(JSON.parse(meta.toString('utf8')) as Omit<CacheEntry, 'body'>), body }
  }

  async lookup(urlKey: string, keyFor: (vary: readonly string[]) => string): Promise<CacheEntry | undefined> {
    this.#ensureReady()
    const vary = await this.#redis.get(this.#p + 'v:' + urlKey)
    if (vary === null) return undefined
    return this.get(keyFor(JSON.parse(vary) as string[]))
  }

  async set(entry: CacheEntry, retainMs: number): Promise<boolean> {
    const size = entrySize(entry)
    if (retainMs <= 0 || size > this.#maxEntrySize) return false
    this.#ensureReady()
    const { body, ...meta } = entry
    await this.#redis.cacheSet(
      this.#p,
      entry.key,
      entry.urlKey,
      entry.path,
      JSON.stringify(entry.tags),
      JSON.stringify(entry.vary),
      JSON.stringify(meta),
      body,
      Math.max(1, Math.ceil(retainMs)),
      size,
    )
    return true
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#redis.cacheDrop(this.#p, 'key', key)) > 0
  }

  deleteUrl(urlKey: string): Promise<number> {
    return this.#redis.cacheDrop(this.#p, 'url', urlKey)
  }

  keysByPrefix(prefix: string): Promise<string[]> {
    return this.#redis.cacheList(this.#p, 'prefix', prefix)
  }

  deleteByPrefix(prefix: string): Promise<number> {
    return this.#redis.cacheDrop(this.#p, 'prefix', prefix)
  }

  keysByTag(tag: string): Promise<string[]> {
    return this.#redis.cacheList(this.#p, 'tag', tag)
  }

  deleteByTag(tag: string): Promise<number> {
    return this.#redis.cacheDrop(this.#p, 'tag', tag)
  }

  clear(): Promise<number> {
    return this.#redis.cacheDrop(this.#p, 'all', '')
  }

  async stats(): Promise<CacheStats> {
    const [[entries, bytes], info] = await Promise.all([this.#redis.cacheStats(this.#p), this.#redis.info('stats')])
    // Redis evicts under its own maxmemory policy; that is the store's eviction count.
    const m = EVICTED.exec(info)
    return { entries, bytes, evictions: m ? Number(m[1]) : 0 }
  }

  async close(): Promise<void> {
    // QUIT waits for the server; with no connection there is nobody to wait for.
    if (this.#redis.status !== 'ready') return void this.#redis.disconnect()
    try {
      await this.#redis.quit()
    } catch {
      this.#redis.disconnect()
    }
  }
}
