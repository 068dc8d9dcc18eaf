import { afterEach, describe, expect, it } from 'vitest'
import { cacheRig, reply, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

describe('cache: hits and misses over real HTTP', () => {
  it('stores a cacheable response and serves the next request from the cache with Age and Cache-Status', async () => {
    let n = 0
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=60' }, `v${++n}`))
    const a = await rig.get('/a')
    expect(a.status).toBe(200)
    expect(a.body).toBe('v1')
    expect(a.headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    expect(a.headers.age).toBeUndefined()
    const b = await rig.get('/a')
    expect(b.body).toBe('v1')
    expect(b.headers['cache-status']).toBe('switchyard; hit')
    // Age includes the apparent age from the origin's 1-second Date header (RFC 9111 §4.2.3),
    // so a hit right after the store reads 0 or 1, never absent.
    expect(b.headers.age).toMatch(/^[01]$/)
    expect(rig.hits('/a')).toBe(1)
  })

  it('says why a response was not stored, and goes upstream again', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'no-store' }, 'x'))
    const a = await rig.get('/ns')
    expect(a.headers['cache-status']).toBe('switchyard; fwd=miss; detail=no-store')
    await rig.get('/ns')
    expect(rig.hits('/ns')).toBe(2)
  })

  it('uses the route ttl when the upstream gives no freshness', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, {}, 'plain'), { cache: { ttl: '30s' } })
    await rig.get('/t')
    const b = await rig.get('/t')
    expect(b.headers['cache-status']).toBe('switchyard; hit')
    expect(rig.hits('/t')).toBe(1)
  })

  it('with `cache: {}` reuses only what the upstream headers allow', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, {}, 'plain'))
    const a = await rig.get('/u')
    expect(a.headers['cache-status']).toBe('switchyard; fwd=miss; detail=no-freshness')
    await rig.get('/u')
    expect(rig.hits('/u')).toBe(2)
  })

  it('keys the query string exactly: a different query is a different entry', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=60' }, req.url ?? ''))
    expect((await rig.get('/q?a=1&b=2')).body).toBe('/q?a=1&b=2')
    expect((await rig.get('/q?b=2&a=1')).body).toBe('/q?b=2&a=1')
    expect((await rig.get('/q?a=1&b=2')).headers['cache-status']).toBe('switchyard; hit')
  })

  it('answers client conditionals with 304 from a fresh entry', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=60', etag: '"v1"', 'last-modified': 'Tue, 01 Dec 2026 00:00:00 GMT' }, 'body'))
    await rig.get('/c')
    const inm = await rig.get('/c', { 'if-none-match': '"v1"' })
    expect(inm.status).toBe(304)
    expect(inm.body).toBe('')
    expect(inm.headers.etag).toBe('"v1"')
    expect(inm.headers['cache-status']).toBe('switchyard; hit')
    const ims = await rig.get('/c', { 'if-modified-since': 'Wed, 02 Dec 2026 00:00:00 GMT' })
    expect(ims.status).toBe(304)
    const other = await rig.get('/c', { 'if-none-match': '"v0"' })
    expect(other.status).toBe(200)
    expect(other.body).toBe('body')
    expect(rig.hits('/c')).toBe(1)
  })

  it('does not forward the purge tags to clients', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=60', 'cache-tag': 'a,b' }, 'x'))
    expect((await rig.get('/tag')).headers['cache-tag']).toBeUndefined()
    expect((await rig.get('/tag')).headers['cache-tag']).toBeUndefined()
  })
})
