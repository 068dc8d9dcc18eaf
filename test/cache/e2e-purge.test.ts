import { afterEach, describe, expect, it } from 'vitest'
import { cacheRig, reply, send, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

async function purge(r: CacheRig, body: string): Promise<{ status: number; json: unknown }> {
  const res = await send(r.gw.adminUrl!, '/api/cache/purge', { 'content-type': 'application/json' }, 'POST', body)
  return { status: res.status, json: JSON.parse(res.body) }
}

function origin(): Parameters<typeof cacheRig>[0] {
  return (req, res) => {
    const m = /^\/api\/users\/(\d+)/.exec(req.url ?? '')
    reply(res, req, 200, { 'cache-control': 'max-age=600', ...(m ? { 'cache-tag': `user-${m[1]}, users` } : {}) }, `${req.url} #${Math.random()}`)
  }
}

describe('cache: purge API', () => {
  it('purges by path prefix', async () => {
    rig = await cacheRig(origin())
    for (const p of ['/api/users/1', '/api/users/2', '/api/orders/1']) await rig.get(p)
    expect(await purge(rig, JSON.stringify({ prefix: '/api/users' }))).toEqual({ status: 200, json: { purged: 2 } })
    expect((await rig.get('/api/users/1')).headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    expect((await rig.get('/api/orders/1')).headers['cache-status']).toBe('switchyard; hit')
  })

  it('purges by tag from the upstream Cache-Tag header', async () => {
    rig = await cacheRig(origin())
    for (const p of ['/api/users/7', '/api/users/7/posts', '/api/users/8']) await rig.get(p)
    expect(await purge(rig, JSON.stringify({ tag: 'user-7' }))).toEqual({ status: 200, json: { purged: 2 } })
    expect((await rig.get('/api/users/8')).headers['cache-status']).toBe('switchyard; hit')
    expect((await rig.get('/api/users/7')).headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    // users/8 and the refetched users/7 remain tagged "users"
    expect(await purge(rig, JSON.stringify({ tag: 'users' }))).toEqual({ status: 200, json: { purged: 2 } })
  })

  it('purges everything with {}', async () => {
    rig = await cacheRig(origin())
    for (const p of ['/a', '/b']) await rig.get(p)
    expect(await purge(rig, '{}')).toEqual({ status: 200, json: { purged: 2 } })
    expect((await rig.get('/a')).headers['cache-status']).toBe('switchyard; fwd=miss; stored')
  })

  it('rejects malformed bodies with a 400 and purges nothing', async () => {
    rig = await cacheRig(origin())
    await rig.get('/a')
    for (const bad of ['', 'not json', '{"tag": 7}', '{"prefix": "no-slash"}', '{"prefix": "/a", "tag": "x"}', '{"what": 1}', '[1]', '{"tag": ""}']) {
      const r = await purge(rig, bad)
      expect(r.status, bad).toBe(400)
      expect(r.json).toMatchObject({ statusCode: 400, error: 'Bad Request' })
    }
    expect((await rig.get('/a')).headers['cache-status']).toBe('switchyard; hit')
  })
})
