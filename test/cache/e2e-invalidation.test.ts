import { afterEach, describe, expect, it } from 'vitest'
import { cacheRig, reply, type CacheRig } from './e2e-harness.js'
import { send } from './e2e-harness.js'

let rig: CacheRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

describe('cache: unsafe requests invalidate (RFC 9111 §4.4)', () => {
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    it(`a successful ${method} invalidates the stored GET of its URL`, async () => {
      let version = 1
      rig = await cacheRig((req, res) => {
        if (req.method !== 'GET') version++
        reply(res, req, 200, { 'cache-control': 'max-age=600' }, `v${version}`)
      })
      expect((await rig.get('/doc')).body).toBe('v1')
      expect((await rig.get('/doc')).headers['cache-status']).toBe('switchyard; hit')
      await send(rig.gw.url, '/doc', { 'content-type': 'text/plain' }, method, 'change')
      const after = await rig.get('/doc')
      expect(after.body).toBe('v2')
      expect(after.headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    })
  }

  it('also invalidates same-origin Location and Content-Location targets, never another origin', async () => {
    let version = 1
    rig = await cacheRig((req, res) => {
      if (req.method === 'POST') {
        version++
        const headers: Record<string, string> =
          req.url === '/create' ? { location: '/items/1', 'content-location': `http://${req.headers['x-forwarded-host']}/items/2` } : { location: 'http://elsewhere.example/items/3' }
        return reply(res, req, 201, headers, '')
      }
      reply(res, req, 200, { 'cache-control': 'max-age=600' }, `${req.url} v${version}`)
    })
    for (const p of ['/items/1', '/items/2', '/items/3']) await rig.get(p)
    await send(rig.gw.url, '/create', {}, 'POST', 'x')
    expect((await rig.get('/items/1')).headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    expect((await rig.get('/items/2')).headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    expect((await rig.get('/items/3')).headers['cache-status']).toBe('switchyard; hit')
    await send(rig.gw.url, '/other', {}, 'POST', 'x')
    expect((await rig.get('/items/3')).headers['cache-status']).toBe('switchyard; hit')
  })

  it('a failed unsafe request leaves the entry alone', async () => {
    rig = await cacheRig((req, res) => (req.method === 'GET' ? reply(res, req, 200, { 'cache-control': 'max-age=600' }, 'kept') : reply(res, req, 409, {}, 'conflict')))
    await rig.get('/doc')
    await send(rig.gw.url, '/doc', {}, 'DELETE')
    expect((await rig.get('/doc')).headers['cache-status']).toBe('switchyard; hit')
  })

  it('invalidates across routes: an uncached route taking the POST still clears the GET entry', async () => {
    let version = 1
    rig = await cacheRig(
      (req, res) => {
        if (req.method !== 'GET') version++
        reply(res, req, 200, { 'cache-control': 'max-age=600' }, `v${version}`)
      },
      { route: { match: { path: '/', methods: ['GET', 'HEAD'] } }, top: {} },
    )
    // Add an uncached route for writes by reloading with two routes.
    const pools = { main: { backends: [rig.up.url] } }
    const result = await rig.gw.reload({
      pools,
      server: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      routes: [
        { name: 'reads', match: { path: '/', methods: ['GET', 'HEAD'] }, pool: 'main', cache: {} },
        { name: 'writes', match: { path: '/' }, pool: 'main' },
      ],
    })
    expect(result.ok).toBe(true)
    await rig.get('/doc')
    await send(rig.gw.url, '/doc', {}, 'POST', 'x')
    expect((await rig.get('/doc')).body).toBe('v2')
  })
})
