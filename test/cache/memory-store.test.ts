import { describe, expect, it } from 'vitest'
import { MemoryStore } from '../../src/cache/memory-store.js'
import { entrySize } from '../../src/cache/store.js'
import { entry, storeContract } from './store-contract.js'

storeContract('MemoryStore', async () => new MemoryStore({ maxSize: 1 << 20, maxEntrySize: 4096 }))

describe('MemoryStore bounds', () => {
  it('holds at most maxSize bytes under a flood of distinct keys, counting evictions', async () => {
    const maxSize = 50_000
    const store = new MemoryStore({ maxSize, maxEntrySize: 4096 })
    for (let i = 0; i < 2000; i++) {
      await store.set(entry(`/k${i}`, { body: Buffer.alloc(500), tags: [`t${i % 10}`] }), 60_000)
      expect((await store.stats()).bytes).toBeLessThanOrEqual(maxSize)
    }
    const s = await store.stats()
    expect(s.evictions).toBeGreaterThan(1800)
    expect(s.entries).toBe(2000 - s.evictions)
    // Indexes follow evictions: no tag or prefix listing names an evicted entry.
    const tagged = (await Promise.all(Array.from({ length: 10 }, (_, i) => store.keysByTag(`t${i}`)))).flat()
    expect(tagged.length).toBe(s.entries)
    expect((await store.keysByPrefix('/k')).length).toBe(s.entries)
    expect(await store.get('/k0')).toBeUndefined()
    expect(await store.get('/k1999')).toBeDefined()
    await store.close()
  })

  it('evicts least recently used first', async () => {
    const e = (k: string) => entry(k, { body: Buffer.alloc(100) })
    const store = new MemoryStore({ maxSize: entrySize(e('/a')) * 3, maxEntrySize: 4096 })
    await store.set(e('/a'), 60_000)
    await store.set(e('/b'), 60_000)
    await store.set(e('/c'), 60_000)
    await store.get('/a')
    await store.set(e('/d'), 60_000)
    expect(await store.get('/b')).toBeUndefined()
    expect(await store.get('/a')).toBeDefined()
    expect((await store.stats()).evictions).toBe(1)
  })

  it('forgets entries after their retention, unindexing them (injected clock)', async () => {
    let now = 1000
    const store = new MemoryStore({ maxSize: 1 << 20, maxEntrySize: 4096, now: () => now })
    await store.set(entry('/a', { tags: ['x'] }), 5000)
    now += 4000
    expect(await store.get('/a')).toBeDefined()
    now += 2000
    expect(await store.get('/a')).toBeUndefined()
    expect(await store.keysByTag('x')).toEqual([])
    expect((await store.stats()).evictions).toBe(0)
  })
})
