/**
 * The shared-memory rate-limit store: one budget per key for every store over the same memory
 * (every worker thread), fixed windows on an injected clock, bounded memory with the oldest
 * window giving way, and exact counts when threads count the same key at the same time.
 */
import { describe, expect, it } from 'vitest'
import { Worker } from 'node:worker_threads'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createSharedRateLimitMemory, SharedMemoryRateLimitStore } from '../../src/ratelimit/shared-memory-store.js'

function count(store: SharedMemoryRateLimitStore, key: string, window = 1000): { current: number; ttl: number } {
  let out: { current: number; ttl: number } | undefined
  store.incr(key, (err, res) => {
    expect(err).toBeNull()
    out = res
  }, window, 10)
  return out!
}

describe('shared-memory rate-limit store', () => {
  it('two stores over one memory spend one budget per key, and keys do not share', () => {
    let now = 1_000_000
    const memory = createSharedRateLimitMemory(1024)
    const a = new SharedMemoryRateLimitStore(memory, () => now)
    const b = new SharedMemoryRateLimitStore(memory, () => now)
    expect(count(a, 'ip:1')).toEqual({ current: 1, ttl: 1000 })
    expect(count(b, 'ip:1')).toEqual({ current: 2, ttl: 1000 })
    now += 400
    expect(count(a, 'ip:1')).toEqual({ current: 3, ttl: 600 })
    expect(count(b, 'ip:2').current).toBe(1)
    now += 600 // the window of ip:1 has ended
    expect(count(b, 'ip:1')).toEqual({ current: 1, ttl: 1000 })
  })

  it('holds a bounded table: when every probed slot is live, the window ending first gives way', () => {
    let now = 0
    const store = new SharedMemoryRateLimitStore(createSharedRateLimitMemory(16), () => now)
    for (let i = 0; i < 16; i++) {
      now = i
      count(store, `k${i}`, 10_000)
    }
    now = 100
    // A seventeenth key takes over a slot; the table never grows.
    expect(count(store, 'newcomer', 10_000).current).toBe(1)
    expect(count(store, 'newcomer', 10_000).current).toBe(2)
  })

  it('counts exactly when four threads count the same key at once', async () => {
    const dist = resolve(import.meta.dirname, '../../dist/src/ratelimit/shared-memory-store.js')
    expect(existsSync(dist), 'dist/ missing: npm test builds it (pretest)').toBe(true)
    const memory = createSharedRateLimitMemory(1024)
    const code = `
      const { workerData, parentPort } = require('node:worker_threads')
      import(workerData.url).then(({ SharedMemoryRateLimitStore }) => {
        const store = new SharedMemoryRateLimitStore(workerData.memory)
        let max = 0
        for (let i = 0; i < 5000; i++) store.incr('one-key', (e, r) => { if (r.current > max) max = r.current }, 60000, 1)
        parentPort.postMessage(max)
      })`
    const url = pathToFileURL(join(dist)).href
    const results = await Promise.all(
      Array.from({ length: 4 }, () => new Promise<number>((res, rej) => {
        const w = new Worker(code, { eval: true, workerData: { memory, url } })
        w.once('message', (m: number) => res(m))
        w.once('error', rej)
      })),
    )
    // 20 000 increments, none lost: the last one seen by some thread is exactly 20 000.
    expect(Math.max(...results)).toBe(20_000)
    const store = new SharedMemoryRateLimitStore(memory)
    expect(count(store, 'one-key', 60_000).current).toBe(20_001)
  })
})
