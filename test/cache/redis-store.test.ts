import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisStore } from '../../src/cache/redis-store.js'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis.js'
import { waitFor } from '../helpers/upstream.js'
import { entry, storeContract } from './store-contract.js'

const run = redisAvailable()

async function connected(store: RedisStore): Promise<RedisStore> {
  if (!(await store.waitReady(5000))) throw new Error('test redis-server not reachable')
  return store
}
let redis: TestRedis
let n = 0

describe.runIf(run)('RedisStore against a real redis-server', () => {
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })

  // Each test gets its own prefix: a fresh, empty store on the shared server.
  storeContract('RedisStore', () => connected(new RedisStore({ url: redis.url, prefix: `t${++n}:`, maxEntrySize: 4096 })))

  it('shares entries between two store instances (two gateways)', async () => {
    const a = await connected(new RedisStore({ url: redis.url, prefix: 'shared:', maxEntrySize: 4096 }))
    const b = await connected(new RedisStore({ url: redis.url, prefix: 'shared:', maxEntrySize: 4096 }))
    try {
      await a.set(entry('/s', { tags: ['t'] }), 60_000)
      expect((await b.get('/s'))?.body.toString()).toBe('body of /s')
      expect(await b.deleteByTag('t')).toBe(1)
      expect(await a.get('/s')).toBeUndefined()
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('fails request-path calls at once while Redis is down, and recovers when it is back', async () => {
    const own = await startRedis()
    const s = await connected(new RedisStore({ url: own.url, prefix: 'down:', maxEntrySize: 4096 }))
    try {
      await own.stop()
      await waitFor(async () => {
        try {
          await s.get('/x')
          return false
        } catch {
          return true
        }
      }, 3000, 20, 'store to notice the outage')
      const started = Date.now()
      await expect(s.lookup('/x', () => '/x')).rejects.toMatchObject({ code: 'SWITCHYARD_CACHE_STORE_UNAVAILABLE' })
      await expect(s.set(entry('/x'), 1000)).rejects.toMatchObject({ code: 'SWITCHYARD_CACHE_STORE_UNAVAILABLE' })
      expect(Date.now() - started).toBeLessThan(100)
    } finally {
      await s.close()
    }
  })

  it('expires entries after their retention and reaps their index and bytes', async () => {
    const s = await connected(new RedisStore({ url: redis.url, prefix: 'exp:', maxEntrySize: 4096 }))
    try {
      await s.set(entry('/e', { tags: ['t'] }), 50)
      expect(await s.get('/e')).toBeDefined()
      await waitFor(async () => (await s.get('/e')) === undefined, 2000, 20, 'expiry')
      expect(await s.stats()).toMatchObject({ entries: 0, bytes: 0 })
      expect(await s.keysByTag('t')).toEqual([])
    } finally {
      await s.close()
    }
  })
})
