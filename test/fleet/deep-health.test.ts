/**
 * `GET /health?deep=1`: every dependency the configuration uses, asked now. 200 while all
 * answer, 503 naming the one that does not; details only for a caller holding the admin token.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

let gw: StartedGateway | undefined
let up: TestUpstream | undefined
let redis: TestRedis | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
  await redis?.stop()
  gw = undefined
  up = undefined
  redis = undefined
})

async function deep(token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`${gw!.adminUrl}/health?deep=1`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
}

describe('deep health check', () => {
  it('reports each pool, and 503 when a pool has no backend that may take traffic', async () => {
    up = await startUpstream('a')
    gw = await startGateway({
      pools: { live: { backends: [up.url] }, dead: { backends: ['http://127.0.0.1:1'], healthCheck: { path: '/health', interval: '50ms', unhealthyThreshold: 1 } } },
      routes: [{ name: 'r', match: { path: '/' }, pool: 'live' }],
    })
    const r = (await waitFor(async () => {
      const d = await deep()
      return d.status === 503 ? d : undefined
    }, 5_000, 25, 'the dead pool reported'))!
    expect(r.status).toBe(503)
    expect(r.body).toMatchObject({ status: 'degraded', checks: { pools: { ok: false, pools: { live: { available: 1, total: 1 }, dead: { available: 0, total: 1 } } } } })
    // The plain liveness check is unchanged.
    expect((await request(`${gw.adminUrl}/health`)).statusCode).toBe(200)
  })

  it.runIf(redisAvailable())('asks the Redis store: ok while it answers, 503 once it is gone', async () => {
    redis = await startRedis()
    up = await startUpstream('a')
    gw = await startGateway(simpleConfig([up.url], { top: { rateLimit: { store: 'redis', redis: redis.url } }, route: { rateLimit: { max: 100, window: '1m' } } }))
    await (await request(`${gw.url}/x`)).body.text()
    const ok = await deep()
    expect(ok.status).toBe(200)
    expect(ok.body).toMatchObject({ status: 'ok', checks: { pools: { ok: true }, redis: { ok: true } } })
    await redis.stop()
    redis = undefined
    const down = await deep()
    expect(down.status).toBe(503)
    expect(down.body).toMatchObject({ status: 'degraded', checks: { redis: { ok: false } } })
  })

  it('names details only to a caller with the admin token', async () => {
    up = await startUpstream('a')
    gw = await startGateway(simpleConfig([up.url], { top: { admin: { token: 'sesame-sesame-sesame' } } }))
    const anonymous = await deep()
    expect(anonymous).toEqual({ status: 200, body: { status: 'ok', checks: { pools: { ok: true } } } })
    const named = await deep('sesame-sesame-sesame')
    expect(named.body).toMatchObject({ checks: { pools: { ok: true, pools: { main: { available: 1, total: 1 } } } } })
  })
})
