/**
 * The CacheStore contract, run against each implementation (memory, Redis).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { CacheEntry, CacheStore } from '../../src/cache/store.js'

export function entry(key: string, over: Partial<CacheEntry> = {}): CacheEntry {
  const urlKey = over.urlKey ?? key.split('|')[0]!
  return {
    key,
    urlKey,
    path: over.path ?? urlKey,
    tags: [],
    vary: [],
    status: 200,
    headers: { 'content-type': 'text/plain', etag: '"1"' },
    body: Buffer.from(`body of ${key}`),
    freshness: {
      requestTime: 1,
      responseTime: 2,
      initialAge: 0,
      lifetime: 60_000,
      heuristic: false,
      staleWhileRevalidate: 0,
      staleIfError: 0,
      mustRevalidate: false,
    },
    ...over,
  }
}

export function storeContract(name: string, make: () => Promise<CacheStore>): void {
  describe(`${name}: CacheStore contract`, () => {
    let store: CacheStore
    beforeEach(async () => {
      store = await make()
    })
    afterEach(async () => {
      await store.close()
    })

    it('gets what was set, body bytes and headers intact', async () => {
      const e = entry('/a', { body: Buffer.from([0, 255, 10, 13]), headers: { 'set-x': ['a', 'b'] } })
      expect(await store.set(e, 60_000)).toBe(true)
      const got = await store.get('/a')
      expect(got?.body.equals(e.body)).toBe(true)
      expect(got?.headers).toEqual({ 'set-x': ['a', 'b'] })
      expect(got?.freshness).toEqual(e.freshness)
      expect(await store.get('/b')).toBeUndefined()
    })

    it('replaces an entry under the same key', async () => {
      await store.set(entry('/a', { tags: ['old'] }), 60_000)
      await store.set(entry('/a', { body: Buffer.from('new'), tags: ['new'] }), 60_000)
      expect((await store.get('/a'))?.body.toString()).toBe('new')
      expect(await store.keysByTag('old')).toEqual([])
      expect(await store.keysByTag('new')).toEqual(['/a'])
      expect((await store.stats()).entries).toBe(1)
    })

    it('refuses entries over the per-entry limit', async () => {
      expect(await store.set(entry('/big', { body: Buffer.alloc(8 * 1024) }), 60_000)).toBe(false)
      expect(await store.get('/big')).toBeUndefined()
    })

    it('looks up the variant named by the recorded Vary names', async () => {
      await store.set(entry('/v|en', { urlKey: '/v', vary: ['accept-language'] }), 60_000)
      await store.set(entry('/v|de', { urlKey: '/v', vary: ['accept-language'] }), 60_000)
      const seen: (readonly string[])[] = []
      const got = await store.lookup('/v', (vary) => {
        seen.push(vary)
        return '/v|de'
      })
      expect(seen).toEqual([['accept-language']])
      expect(got?.key).toBe('/v|de')
      expect(await store.lookup('/nothing', () => '/nothing')).toBeUndefined()
    })

    it('deletes by key and all variants of a URL', async () => {
      await store.set(entry('/v|en', { urlKey: '/v' }), 60_000)
      await store.set(entry('/v|de', { urlKey: '/v' }), 60_000)
      await store.set(entry('/w'), 60_000)
      expect(await store.delete('/w')).toBe(true)
      expect(await store.delete('/w')).toBe(false)
      expect(await store.deleteUrl('/v')).toBe(2)
      expect(await store.lookup('/v', () => '/v|en')).toBeUndefined()
      expect((await store.stats()).entries).toBe(0)
    })

    it('lists and purges by path prefix and by tag', async () => {
      await store.set(entry('/api/users/1', { tags: ['user-1', 'users'] }), 60_000)
      await store.set(entry('/api/users/2', { tags: ['user-2', 'users'] }), 60_000)
      await store.set(entry('/api/orders/1', { tags: ['orders'] }), 60_000)
      expect((await store.keysByPrefix('/api/users')).sort()).toEqual(['/api/users/1', '/api/users/2'])
      expect(await store.keysByTag('user-2')).toEqual(['/api/users/2'])
      expect(await store.deleteByTag('user-2')).toBe(1)
      expect(await store.keysByTag('users')).toEqual(['/api/users/1'])
      expect(await store.deleteByPrefix('/api/users')).toBe(1)
      expect(await store.get('/api/orders/1')).toBeDefined()
      expect(await store.clear()).toBe(1)
      expect(await store.stats()).toMatchObject({ entries: 0, bytes: 0 })
    })

    it('accounts bytes for what it holds', async () => {
      await store.set(entry('/a', { body: Buffer.alloc(1000) }), 60_000)
      const s = await store.stats()
      expect(s.entries).toBe(1)
      expect(s.bytes).toBeGreaterThan(1000)
      await store.delete('/a')
      expect((await store.stats()).bytes).toBe(0)
    })
  })
}
