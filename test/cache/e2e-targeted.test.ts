import { afterEach, describe, expect, it } from 'vitest'
import { cacheRig, reply, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

describe('cache: RFC 9213 targeted fields over real HTTP', () => {
  it('stores on CDN-Cache-Control despite Cache-Control: no-store, and passes both on to the client', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=600' }, 'edge'))
    const a = await rig.get('/a')
    expect(a.headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    expect(a.headers['cache-control']).toBe('no-store')
    expect(a.headers['cdn-cache-control']).toBe('max-age=600')
    const b = await rig.get('/a')
    expect(b.headers['cache-status']).toBe('switchyard; hit')
    expect(b.headers['cache-control']).toBe('no-store')
    expect(b.headers['cdn-cache-control']).toBe('max-age=600')
    expect(rig.hits('/a')).toBe(1)
  })

  it('never sends our own targeted field to clients, on a miss or a hit', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=5', 'switchyard-cache-control': 'max-age=600' }, 'own'))
    const a = await rig.get('/o')
    expect(a.headers['switchyard-cache-control']).toBeUndefined()
    expect(a.headers['cache-control']).toBe('max-age=5')
    const b = await rig.get('/o')
    expect(b.headers['cache-status']).toBe('switchyard; hit')
    expect(b.headers['switchyard-cache-control']).toBeUndefined()
  })

  it('answers to the configured name (cache.targetedField), and passes the default name on then', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'private', 'acme-cache-control': 'max-age=600', 'switchyard-cache-control': 'no-store' }, 'acme'), {
      top: { cache: { targetedField: 'Acme-Cache-Control' } },
    })
    const a = await rig.get('/n')
    expect(a.headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    expect(a.headers['acme-cache-control']).toBeUndefined()
    expect(a.headers['switchyard-cache-control']).toBe('no-store')
    expect((await rig.get('/n')).headers['cache-status']).toBe('switchyard; hit')
  })
})
