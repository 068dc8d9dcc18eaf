import { afterEach, describe, expect, it } from 'vitest'
import { cacheRig, reply, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

describe('cache: concurrent misses are coalesced', () => {
  it('30 concurrent misses for one URL make exactly one upstream request and all get the body', async () => {
    rig = await cacheRig(async (req, res) => {
      await new Promise((r) => setTimeout(r, 150))
      reply(res, req, 200, { 'cache-control': 'max-age=60' }, 'shared body')
    })
    const replies = await Promise.all(Array.from({ length: 30 }, () => rig!.get('/hot')))
    expect(rig.hits('/hot')).toBe(1)
    for (const r of replies) {
      expect(r.status).toBe(200)
      expect(r.body).toBe('shared body')
    }
    const statuses = replies.map((r) => r.headers['cache-status'])
    expect(statuses.filter((s) => s === 'switchyard; fwd=miss; stored')).toHaveLength(1)
    expect(statuses.filter((s) => s === 'switchyard; fwd=miss; collapsed' || s === 'switchyard; hit')).toHaveLength(29)
  })

  it('concurrent requests for a stale entry make one conditional request, and all get the refreshed entry', async () => {
    rig = await cacheRig(async (req, res) => {
      if (req.headers['if-none-match'] === '"v1"') {
        await new Promise((r) => setTimeout(r, 150))
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60' })
        res.end()
        return
      }
      reply(res, req, 200, { 'cache-control': 'max-age=60', age: '61', etag: '"v1"' }, 'validated body')
    })
    await rig.get('/stale')
    const replies = await Promise.all(Array.from({ length: 20 }, () => rig!.get('/stale')))
    expect(rig.hits('/stale')).toBe(2)
    for (const r of replies) expect(r.body).toBe('validated body')
    const statuses = replies.map((r) => r.headers['cache-status'])
    expect(statuses.filter((s) => s === 'switchyard; fwd=stale; fwd-status=304; stored')).toHaveLength(1)
    expect(statuses.filter((s) => s === 'switchyard; fwd=stale; collapsed' || s === 'switchyard; hit')).toHaveLength(19)
  })

  it('followers make their own requests when the response is not storable', async () => {
    let n = 0
    rig = await cacheRig(async (req, res) => {
      n++
      await new Promise((r) => setTimeout(r, 100))
      reply(res, req, 200, { 'cache-control': 'private' }, `for you ${n}`)
    })
    const replies = await Promise.all(Array.from({ length: 5 }, () => rig!.get('/private')))
    expect(rig.hits('/private')).toBe(5)
    for (const r of replies) expect(r.headers['cache-status']).toBe('switchyard; fwd=miss; detail=private')
  })

  it('followers fall back to their own request when the leader failed', async () => {
    let n = 0
    rig = await cacheRig(async (req, res) => {
      n++
      if (n === 1) {
        await new Promise((r) => setTimeout(r, 100))
        res.destroy()
        return
      }
      reply(res, req, 200, { 'cache-control': 'max-age=60' }, 'ok')
    }, { pool: { retry: { attempts: 0 } } })
    const replies = await Promise.all(Array.from({ length: 4 }, () => rig!.get('/flaky')))
    const ok = replies.filter((r) => r.status === 200)
    expect(replies.filter((r) => r.status === 502)).toHaveLength(1)
    expect(ok).toHaveLength(3)
    for (const r of ok) expect(r.body).toBe('ok')
  })
})
