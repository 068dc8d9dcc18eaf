import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RedisStore } from '../../src/cache/redis-store.js'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis.js'
import { waitFor } from '../helpers/upstream.js'
import { entry, storeContract } from './store-contract.js'

const run = redisAvailable()
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
  storeContract('RedisStore', async () => new RedisStore({ url: redis.url, prefix: `t${++n}:`, maxEntrySize: 4096 }))

  it('shares entries between two store instances (two gateways)', async () => {
    const a = new RedisStore({ url: redis.url, prefix: 'shared:', maxEntrySize: 4096 })
    const b = new RedisStore({ url: redis.url, prefix: 'shared:', maxEntrySize: 4096 })
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

  it('expires entries after their retention and reaps their index and bytes', async () => {
    const s = new RedisStore({ url: redis.url, prefix: 'exp:', maxEntrySize: 4096 })
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
