import { afterEach, describe, expect, it } from 'vitest'
import { cacheRig, reply, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

describe('cache: ranges', () => {
  it('answers a single byte range from a fresh complete entry with 206', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=600' }, '01234567890'))
    await rig.get('/r')
    const a = await rig.get('/r', { range: 'bytes=0-1' })
    expect(a.status).toBe(206)
    expect(a.body).toBe('01')
    expect(a.headers['content-range']).toBe('bytes 0-1/11')
    expect(a.headers['cache-status']).toBe('switchyard; hit')
    expect((await rig.get('/r', { range: 'bytes=-3' })).body).toBe('890')
    expect(rig.hits('/r')).toBe(1)
  })

  it('forwards ranges it cannot answer and stores nothing from them', async () => {
    rig = await cacheRig((req, res) => {
      if (req.headers.range) {
        res.writeHead(206, { 'content-range': 'bytes 0-1/11', 'cache-control': 'max-age=600' })
        return void res.end('01')
      }
      reply(res, req, 200, { 'cache-control': 'max-age=600' }, '01234567890')
    })
    const a = await rig.get('/p', { range: 'bytes=0-1' })
    expect(a.status).toBe(206)
    expect(a.headers['cache-status']).toBe('switchyard; fwd=bypass; detail=range')
    expect((await rig.get('/p')).headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    expect((await rig.get('/p', { range: 'bytes=0-1,3-4' })).headers['cache-status']).toBe('switchyard; fwd=bypass; detail=range')
  })
})
