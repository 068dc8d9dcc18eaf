import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/upstream.js'
import { cacheRig, reply, send, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

describe('cache: what is never stored', () => {
  it('does not store responses to requests with Authorization (RFC 9111 §3.5)', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=60' }, `for ${req.headers.authorization}`))
    const a = await rig.get('/me', { authorization: 'Bearer alice' })
    expect(a.headers['cache-status']).toBe('switchyard; fwd=miss; detail=authorization')
    const b = await rig.get('/me', { authorization: 'Bearer bob' })
    expect(b.body).toBe('for Bearer bob')
    // Nor does an anonymous request get Alice's answer.
    const c = await rig.get('/me')
    expect(c.body).toBe('for undefined')
    expect(rig.hits('/me')).toBe(3)
  })

  it('stores an authorized response the origin marks public', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'public, max-age=60' }, 'shared'))
    await rig.get('/pub', { authorization: 'Bearer alice' })
    expect((await rig.get('/pub', { authorization: 'Bearer bob' })).headers['cache-status']).toBe('switchyard; hit')
  })

  it('does not store responses with Set-Cookie, even with max-age', async () => {
    let n = 0
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'public, max-age=60', 'set-cookie': `session=${++n}` }, 'x'))
    const a = await rig.get('/login')
    expect(a.headers['cache-status']).toBe('switchyard; fwd=miss; detail=set-cookie')
    const b = await rig.get('/login')
    expect(b.headers['set-cookie']).toBe('session=2')
    expect(rig.hits('/login')).toBe(2)
  })

  it('stores and replays Set-Cookie when the route sets storeSetCookie (the suite\'s headers-store-Set-Cookie)', async () => {
    let n = 0
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=60', 'set-cookie': `a=${++n}` }, 'x'), { cache: { storeSetCookie: true } })
    expect((await rig.get('/sc')).headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    const b = await rig.get('/sc')
    expect(b.headers['cache-status']).toBe('switchyard; hit')
    expect(b.headers['set-cookie']).toBe('a=1')
    expect(rig.hits('/sc')).toBe(1)
  })

  it('does not store private, no-store or Vary: * responses, nor non-GET methods', async () => {
    rig = await cacheRig((req, res) => {
      const cc = req.url === '/p' ? 'private, max-age=60' : req.url === '/s' ? 'no-store' : 'max-age=60'
      reply(res, req, 200, { 'cache-control': cc, ...(req.url === '/v' ? { vary: '*' } : {}) }, 'x')
    })
    expect((await rig.get('/p')).headers['cache-status']).toBe('switchyard; fwd=miss; detail=private')
    expect((await rig.get('/s')).headers['cache-status']).toBe('switchyard; fwd=miss; detail=no-store')
    expect((await rig.get('/v')).headers['cache-status']).toBe('switchyard; fwd=miss; detail=vary-star')
    expect((await rig.get('/o', {}, 'OPTIONS')).headers['cache-status']).toBe('switchyard; fwd=bypass; detail=method')
    await rig.get('/o', {}, 'OPTIONS')
    expect(rig.hits('/o')).toBe(2)
  })

  it('does not let a method-override header poison the GET entry', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=60' }, req.headers['x-http-method-override'] ? 'deleted!' : 'normal'))
    const evil = await rig.get('/item', { 'x-http-method-override': 'DELETE' })
    expect(evil.headers['cache-status']).toBe('switchyard; fwd=bypass; detail=override-header')
    expect((await rig.get('/item')).body).toBe('normal')
  })

  it('streams bodies over maxEntrySize through without storing them', async () => {
    const big = 'x'.repeat(64 * 1024)
    rig = await cacheRig(
      (req, res) => {
        if (req.url === '/chunked') {
          res.writeHead(200, { 'cache-control': 'max-age=60' })
          res.write(big.slice(0, 1000))
          res.end(big.slice(1000))
          return
        }
        reply(res, req, 200, { 'cache-control': 'max-age=60' }, big)
      },
      { top: { cache: { maxEntrySize: '16kb', maxSize: '1mb' } } },
    )
    const a = await rig.get('/big')
    expect(a.body.length).toBe(big.length)
    expect(a.headers['cache-status']).toBe('switchyard; fwd=miss; detail=too-large')
    const b = await rig.get('/chunked')
    expect(b.body).toBe(big)
    expect(b.headers['cache-status']).toBe('switchyard; fwd=miss; detail=too-large')
    await rig.get('/chunked')
    expect(rig.hits('/chunked')).toBe(2)
  })

  it('a HEAD on a too-large resource stops reading it and releases the backend without a failure', async () => {
    const chunk = 'y'.repeat(16 * 1024)
    rig = await cacheRig(
      (req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' })
        // A long chunked body (~10 s): far more than maxEntrySize, written slowly.
        let n = 0
        const timer = setInterval(() => {
          if (res.destroyed || n++ > 2000) {
            clearInterval(timer)
            if (!res.destroyed) res.end()
            return
          }
          res.write(chunk)
        }, 5)
      },
      { top: { cache: { maxEntrySize: '32kb', maxSize: '1mb' } } },
    )
    const h = await rig.get('/huge', {}, 'HEAD')
    expect(h.status).toBe(200)
    expect(h.headers['cache-status']).toBe('switchyard; fwd=miss; detail=too-large')
    await waitFor(async () => {
      const pools = JSON.parse((await send(rig!.gw.adminUrl!, '/api/pools')).body) as { backends: { activeRequests: number; circuit: string }[] }[]
      return pools[0]!.backends[0]!.activeRequests === 0
    }, 2000, 20, 'backend released')
    const text = await rig.gw.metrics.registry.metrics()
    expect(text).not.toMatch(/switchyard_upstream_errors_total\{[^}]*kind="reset"/)
  })

  it('decides from headers, not from a file extension', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'no-store', 'content-type': 'text/css' }, 'body{}'))
    await rig.get('/style.css')
    await rig.get('/style.css')
    expect(rig.hits('/style.css')).toBe(2)
  })
})
