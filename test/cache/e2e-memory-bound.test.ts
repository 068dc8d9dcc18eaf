import { afterEach, describe, expect, it } from 'vitest'
import { cacheRig, reply, send, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'))
  if (!line) throw new Error(`metric ${name} not exported`)
  return Number(line.slice(line.lastIndexOf(' ') + 1))
}

describe('cache: the memory bound holds', () => {
  it('never holds more than cache.maxSize under a flood of distinct keys, evicting and counting', async () => {
    const maxSize = 64 * 1024
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=600' }, 'x'.repeat(1000)), {
      top: { cache: { maxSize, maxEntrySize: '8kb' } },
    })
    // Five at a time: within the fill bound of so small a cache (8 fills, 8 KiB), so every miss
    // is stored (e2e-fill-shedding.test.ts covers what happens past it).
    for (let batch = 0; batch < 100; batch++) {
      await Promise.all(Array.from({ length: 5 }, (_, i) => rig!.get(`/flood/${batch}/${i}`)))
    }
    const text = (await send(rig.gw.adminUrl!, '/metrics')).body
    const bytes = metric(text, 'switchyard_cache_bytes')
    expect(bytes).toBeGreaterThan(0)
    expect(bytes).toBeLessThanOrEqual(maxSize)
    expect(metric(text, 'switchyard_cache_evictions_total')).toBeGreaterThan(400)
    expect(metric(text, 'switchyard_cache_entries')).toBeLessThan(64)
    expect(text).toContain('switchyard_cache_requests_total{route="cached",result="miss"} 500')
    // The most recent entries are still served.
    expect((await rig.get('/flood/99/4')).headers['cache-status']).toBe('switchyard; hit')
    expect(await send(rig.gw.adminUrl!, '/metrics').then((r) => r.body)).toContain('switchyard_cache_requests_total{route="cached",result="hit"} 1')
  })
})
