import { undiciPoolOf } from '../../src/proxy/transports/undici-http1.js'
import { afterEach, describe, expect, it } from 'vitest'
import { createPoolRegistry, type UpstreamPoolRegistry } from '../../src/upstream/index.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { ctx, poolSettings } from './helpers.js'

let upstreams: TestUpstream[] = []
let registry: UpstreamPoolRegistry | undefined

afterEach(async () => {
  await registry?.close()
  registry = undefined
  await Promise.all(upstreams.map((u) => u.close()))
  upstreams = []
})

describe('pool registry', () => {
  it('sends requests through each backend dispatcher in rotation and counts them in flight', async () => {
    upstreams = await Promise.all(['a', 'b', 'c'].map((n) => startUpstream(n)))
    registry = createPoolRegistry([poolSettings({ name: 'web', backends: upstreams.map((u) => ({ url: u.url, weight: 1 })) })])
    const pool = registry.get('web')!
    expect(pool.hasAvailable()).toBe(true)
    const served: string[] = []
    for (let i = 0; i < 6; i++) {
      pool.recordRequest()
      const [backend] = pool.candidates(ctx())
      const lease = pool.acquire(backend!)!
      expect(backend!.activeRequests).toBe(1)
      const res = await undiciPoolOf(backend!).request({ origin: backend!.origin, path: '/x', method: 'GET' })
      served.push(String(res.headers['x-upstream']))
      await res.body.dump()
      lease.end('success', 1)
      lease.end('success', 1) // a second end is ignored
      expect(backend!.activeRequests).toBe(0)
    }
    expect(served).toEqual(['a', 'b', 'c', 'a', 'b', 'c'])
    expect(registry.snapshot()).toEqual([
      {
        name: 'web',
        algorithm: 'round-robin',
        fallback: null,
        backends: upstreams.map((u) => ({ url: u.url, weight: 1, healthy: true, circuit: 'closed', activeRequests: 0, state: 'enabled' })),
      },
    ])
  })
})
