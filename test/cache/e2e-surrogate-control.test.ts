import { afterEach, describe, expect, it } from 'vitest'
import { cacheRig, reply, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

describe('cache: Surrogate-Control (W3C Edge Architecture)', () => {
  it('announces Surrogate-Capability upstream, obeys Surrogate-Control over Cache-Control and hides it from clients', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'no-store', 'surrogate-control': 'max-age=600;switchyard' }, 'edge'))
    const a = await rig.get('/s')
    expect(rig.up.requests[0]!.headers['surrogate-capability']).toBe('switchyard="Surrogate/1.0"')
    expect(a.headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    expect(a.headers['surrogate-control']).toBeUndefined()
    expect(a.headers['cache-control']).toBe('no-store') // downstream caches still get the origin's word
    const b = await rig.get('/s')
    expect(b.headers['cache-status']).toBe('switchyard; hit')
    expect(b.headers['surrogate-control']).toBeUndefined()
  })

  it('appends to a downstream surrogate’s capability', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'no-store' }, 'x'))
    await rig.get('/c', { 'surrogate-capability': 'cdn="Surrogate/1.0"' })
    expect(rig.up.requests[0]!.headers['surrogate-capability']).toBe('cdn="Surrogate/1.0", switchyard="Surrogate/1.0"')
  })
})
