import { afterEach, describe, expect, it } from 'vitest'
import { cacheRig, reply, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

describe('cache: revalidation', () => {
  it('revalidates a stale entry with If-None-Match; a 304 refreshes it', async () => {
    let served = 0
    rig = await cacheRig((req, res) => {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60', 'x-fresh': 'yes' })
        res.end()
        return
      }
      served++
      reply(res, req, 200, { 'cache-control': 'max-age=60', age: '61', etag: '"v1"' }, 'the body')
    })
    await rig.get('/r')
    const r = await rig.get('/r')
    expect(r.status).toBe(200)
    expect(r.body).toBe('the body')
    expect(r.headers['cache-status']).toBe('switchyard; fwd=stale; fwd-status=304; stored')
    expect(r.headers['x-fresh']).toBe('yes')
    expect(rig.up.requests[1]!.headers['if-none-match']).toBe('"v1"')
    // Refreshed by the 304: fresh now.
    const h = await rig.get('/r')
    expect(h.headers['cache-status']).toBe('switchyard; hit')
    expect(served).toBe(1)
    expect(rig.hits('/r')).toBe(2)
  })

  it('revalidates with If-Modified-Since when the entry has only Last-Modified', async () => {
    const lm = 'Tue, 01 Dec 2026 00:00:00 GMT'
    rig = await cacheRig((req, res) => {
      if (req.headers['if-modified-since'] === lm) {
        res.writeHead(304, { 'last-modified': lm, 'cache-control': 'max-age=60' })
        res.end()
        return
      }
      reply(res, req, 200, { 'cache-control': 'max-age=0', 'last-modified': lm }, 'lm body')
    })
    await rig.get('/lm')
    const r = await rig.get('/lm')
    expect(r.body).toBe('lm body')
    expect(r.headers['cache-status']).toBe('switchyard; fwd=stale; fwd-status=304; stored')
  })

  it('replaces the entry when revalidation brings a new body', async () => {
    let v = 1
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=0', etag: `"v${v}"` }, `body ${v}`))
    await rig.get('/n')
    v = 2
    const r = await rig.get('/n')
    expect(r.body).toBe('body 2')
    expect(r.headers['cache-status']).toBe('switchyard; fwd=stale; fwd-status=200; stored')
  })

  it('request Cache-Control: no-cache and max-age=0 revalidate a fresh entry', async () => {
    rig = await cacheRig((req, res) => {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60' })
        res.end()
        return
      }
      reply(res, req, 200, { 'cache-control': 'max-age=60', etag: '"v1"' }, 'b')
    })
    await rig.get('/f')
    const a = await rig.get('/f', { 'cache-control': 'no-cache' })
    expect(a.body).toBe('b')
    expect(a.headers['cache-status']).toBe('switchyard; fwd=request; fwd-status=304; stored')
    const b = await rig.get('/f', { 'cache-control': 'max-age=0' })
    expect(b.headers['cache-status']).toBe('switchyard; fwd=request; fwd-status=304; stored')
    expect(rig.hits('/f')).toBe(3)
  })

  it('a 304 whose validator does not match the entry is not applied: the full response is fetched', async () => {
    rig = await cacheRig((req, res) => {
      if (req.headers['if-none-match'] !== undefined && rig!.up.requests.length === 2) {
        res.writeHead(304, { etag: '"other"' })
        res.end()
        return
      }
      reply(res, req, 200, { 'cache-control': 'max-age=0', etag: `"v${rig!.up.requests.length}"` }, `full ${rig!.up.requests.length}`)
    })
    await rig.get('/m')
    const r = await rig.get('/m')
    expect(r.status).toBe(200)
    expect(r.body).toBe('full 3')
  })
})
