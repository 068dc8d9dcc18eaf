/**
 * GCRA, the generic cell rate algorithm (ITU-T I.371; the "virtual scheduling" form, as
 * redis-cell and Envoy's token buckets behave): `max` requests per `window` become one request
 * every T = window / max, with a burst of up to `max` at once. Each key keeps one number, its
 * theoretical arrival time (TAT). A request at `now` is allowed when TAT - now <= window - T, and
 * then moves TAT to max(TAT, now) + T.
 *
 * Unlike a fixed window it has no edge: a client cannot spend a whole budget at 0:59 and another
 * at 1:00 (the double burst a fixed window allows); capacity comes back one request every T.
 *
 * Exposed through the fixed-window store's contract (src/ratelimit/store.ts), so the rate-limit
 * stage treats both alike: `current` is the requests the key holds now (1..max when allowed,
 * max + 1 when refused) and `ttl` the ms until it is empty again (allowed) or until the next
 * request will be (refused: what Retry-After says).
 */
import type { RateLimitStore } from './store.js'

type Answer = { current: number; ttl: number }

/** One GCRA step, pure: the answer and the key's new TAT (unchanged when refused). */
export function gcraStep(tat: number | undefined, now: number, window: number, max: number): { answer: Answer; tat: number | undefined } {
  const interval = window / max
  const base = tat === undefined || tat < now ? now : tat
  const next = base + interval
  const allowAt = next - window
  if (now < allowAt) {
    return { answer: { current: max + 1, ttl: Math.ceil(allowAt - now) }, tat }
  }
  return { answer: { current: Math.min(max, Math.ceil((next - now) / interval - 1e-9)), ttl: Math.ceil(next - now) }, tat: next }
}

/** The in-process GCRA store: one TAT per key, the least recently used forgotten past `capacity`. */
export function createMemoryGcraStore(capacity: number, now: () => number = Date.now): RateLimitStore {
  const tats = new Map<string, number>()
  const store: RateLimitStore = {
    incr(key, cb, window, max) {
      const t = now()
      const prior = tats.get(key)
      const { answer, tat } = gcraStep(prior, t, window, max)
      if (tat !== undefined && tat !== prior) {
        tats.delete(key)
        tats.set(key, tat)
        if (tats.size > capacity) tats.delete(tats.keys().next().value!)
      }
      cb(null, answer)
    },
    child: () => store,
  }
  return store
}

/** GCRA in Redis: one Lua script per request, on the server's clock (TIME), so every instance agrees. */
const GCRA_LUA = `
local key = KEYS[1]
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = window / max
local tat = tonumber(redis.call('GET', key))
if tat == nil or tat < now then tat = now end
local nexttat = tat + interval
local allow_at = nexttat - window
if now < allow_at then
  return { max + 1, math.ceil(allow_at - now) }
end
redis.call('SET', key, tostring(nexttat), 'PX', math.ceil(nexttat - now) + 1)
return { math.min(max, math.ceil((nexttat - now) / interval - 0.000000001)), math.ceil(nexttat - now) }
`

/** The slice of an ioredis client this needs (the core names no client library). */
interface RedisLike {
  defineCommand(name: string, def: { numberOfKeys: number; lua: string }): void
  [command: string]: unknown
}

export function createRedisGcraStore(redis: unknown, prefix: string): RateLimitStore {
  const client = redis as RedisLike
  if (typeof client['switchyardGcra'] !== 'function') client.defineCommand('switchyardGcra', { numberOfKeys: 1, lua: GCRA_LUA })
  const run = client['switchyardGcra'] as (key: string, window: number, max: number) => Promise<[number, number]>
  const store: RateLimitStore = {
    incr(key, cb, window, max) {
      run.call(client, `${prefix}gcra:${key}`, window, max).then(
        (r) => cb(null, { current: Number(r[0]), ttl: Number(r[1]) }),
        (err: Error) => cb(err),
      )
    },
    child: () => store,
  }
  return store
}
