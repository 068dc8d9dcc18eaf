import { afterEach, describe, expect, it } from 'vitest'
import { cacheRig, reply, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

// `Age: 61` with `max-age=60`: stale by one second the moment it is stored (no sleeping); the
// validator makes it worth storing, so the next request revalidates it.
const STALE_BY_1S = { 'cache-control': 'max-age=60', age: '61', etag: '"v1"' }
const NO_RETRY = { retry: { attempts: 0 } }

describe('cache: stale while disconnected (RFC 9111 §4.2.4), on by default', () => {
  it('with `cache: {}` serves a stale entry when the origin resets the connection', async () => {
    let drop = false
    rig = await cacheRig((req, res) => (drop ? void res.socket?.destroy() : reply(res, req, 200, STALE_BY_1S, 'last good')), { pool: NO_RETRY })
    expect((await rig.get('/r')).headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    drop = true
    const r = await rig.get('/r')
    expect(r.status).toBe(200)
    expect(r.body).toBe('last good')
    expect(r.headers['cache-status']).toBe('switchyard; fwd=stale; detail=disconnected')
  })

  it('serves it when the origin refuses connections', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, STALE_BY_1S, 'last good'), { pool: NO_RETRY })
    await rig.get('/c')
    await rig.up.close()
    expect((await rig.get('/c')).body).toBe('last good')
  })

  for (const cc of ['must-revalidate', 'proxy-revalidate', 'no-cache', 's-maxage=60']) {
    it(`never past ${cc}: the client gets the gateway's 502`, async () => {
      let drop = false
      rig = await cacheRig((req, res) => (drop ? void res.socket?.destroy() : reply(res, req, 200, { 'cache-control': `max-age=60, ${cc}`, age: '61', etag: '"v"' }, 'x')), {
        pool: NO_RETRY,
      })
      await rig.get('/m')
      drop = true
      const r = await rig.get('/m')
      expect(r.status).toBe(502)
      expect(r.headers['content-type']).toMatch(/application\/json/)
    })
  }

  it('not past the window (default 1 minute of staleness)', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=60', age: '200', etag: '"v"' }, 'old'), { pool: NO_RETRY })
    await rig.get('/w')
    await rig.up.close()
    expect((await rig.get('/w')).status).toBe(502)
  })

  it('not on an origin 5xx (the origin is connected; that is stale-if-error)', async () => {
    let fail = false
    rig = await cacheRig((req, res) => (fail ? reply(res, req, 503, {}, 'down') : reply(res, req, 200, STALE_BY_1S, 'last good')))
    await rig.get('/e')
    fail = true
    expect((await rig.get('/e')).status).toBe(503)
  })

  it('not when the route turns it off (staleIfDisconnected: 0)', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, STALE_BY_1S, 'last good'), { cache: { staleIfDisconnected: 0 }, pool: NO_RETRY })
    await rig.get('/z')
    await rig.up.close()
    expect((await rig.get('/z')).status).toBe(502)
  })

  it('does not store a response only because the window exists', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=60', age: '61' }, 'plain'))
    expect((await rig.get('/p')).headers['cache-status']).toBe('switchyard; fwd=miss; detail=no-freshness')
  })
})
