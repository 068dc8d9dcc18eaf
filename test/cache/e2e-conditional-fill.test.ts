import { afterEach, describe, expect, it } from 'vitest'
import { freePort } from '../helpers/upstream.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { cacheRig, reply, send, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await rig?.close()
  await gw?.close()
  rig = undefined
  gw = undefined
})

describe('cache: fills and gateway errors', () => {
  it('fills the cache on a miss even when the client sent its own validators', async () => {
    rig = await cacheRig((req, res) => {
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"' })
        res.end()
        return
      }
      reply(res, req, 200, { 'cache-control': 'max-age=60', etag: '"v1"' }, 'body-v1')
    })
    const first = await rig.get('/doc', { 'if-none-match': '"v1"' })
    // The fill asked for the whole representation (no client conditionals upstream)...
    expect(rig.up.requests[0]!.headers['if-none-match']).toBeUndefined()
    expect([200, 304]).toContain(first.status)
    expect(first.headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    // ...so the next client is served from the cache.
    const second = await rig.get('/doc')
    expect(second.status).toBe(200)
    expect(second.body).toBe('body-v1')
    expect(second.headers['cache-status']).toBe('switchyard; hit')
    expect(rig.hits('/doc')).toBe(1)
  })

  it("the gateway's own error on a cached route carries Cache-Status", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`
    gw = await startGateway({
      pools: { main: { backends: [dead], retry: { attempts: 0 }, circuitBreaker: false } },
      routes: [{ name: 'cached', match: { path: '/' }, pool: 'main', cache: { ttl: '10s' } }],
    })
    const res = await send(gw.url, '/x')
    expect(res.status).toBe(502)
    expect(res.headers['cache-status']).toBe('switchyard; fwd=miss; detail=upstream-error')
    expect(JSON.parse(res.body)).toMatchObject({ statusCode: 502, error: 'Bad Gateway' })
  })
})
