import { afterEach, describe, expect, it } from 'vitest'
import { cacheRig, reply, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

describe('cache: HEAD shares the GET entry', () => {
  it('answers HEAD from a stored GET response, headers and length, no body', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=60', 'x-v': '1' }, 'twelve bytes'))
    await rig.get('/h')
    const h = await rig.get('/h', {}, 'HEAD')
    expect(h.status).toBe(200)
    expect(h.body).toBe('')
    expect(h.headers['x-v']).toBe('1')
    expect(h.headers['content-length']).toBe('12')
    expect(h.headers['cache-status']).toBe('switchyard; hit')
    expect(rig.up.requests.map((r) => r.method)).toEqual(['GET'])
  })

  it('fills the entry with a GET on a HEAD miss, so the next GET is a hit', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=60' }, 'filled by head'))
    const h = await rig.get('/g', {}, 'HEAD')
    expect(h.status).toBe(200)
    expect(h.body).toBe('')
    expect(h.headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    const g = await rig.get('/g')
    expect(g.body).toBe('filled by head')
    expect(g.headers['cache-status']).toBe('switchyard; hit')
    expect(rig.up.requests.map((r) => r.method)).toEqual(['GET'])
  })
})
