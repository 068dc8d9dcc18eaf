import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { reply, send } from './e2e-harness.js'

const run = redisAvailable()
// Instances behind one load balancer see the same Host; the host is part of the key.
const H = { host: 'api.example.com' }
let redis: TestRedis
const open: { close(): Promise<void> }[] = []

afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close()
})

describe.runIf(run)('cache: Redis store shared by two gateways', () => {
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })

  async function two(): Promise<{ a: StartedGateway; b: StartedGateway; up: TestUpstream }> {
    const up = await startUpstream('origin', (req, res) =>
      reply(res, req, 200, { 'cache-control': 'max-age=600', 'cache-tag': 'doc' }, `from origin ${req.url}`),
    )
    open.push(up)
    const config = {
      cache: { store: 'redis', redis: redis.url },
      pools: { main: { backends: [up.url] } },
      routes: [{ name: 'cached', match: { path: '/' }, pool: 'main', cache: {} }],
    }
    const a = await startGateway(config)
    open.push(a)
    const b = await startGateway(config)
    open.push(b)
    return { a, b, up }
  }

  it('an entry stored through one gateway is a hit on the other', async () => {
    const { a, b, up } = await two()
    const first = await send(a.url, '/shared', H)
    expect(first.headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    const second = await send(b.url, '/shared', H)
    expect(second.body).toBe('from origin /shared')
    expect(second.headers['cache-status']).toBe('switchyard; hit')
    expect(up.requests.length).toBe(1)
  })

  it('a purge through one gateway clears the entry for both', async () => {
    const { a, b } = await two()
    await send(a.url, '/p', H)
    const purged = await send(b.adminUrl!, '/api/cache/purge', { 'content-type': 'application/json' }, 'POST', '{"tag":"doc"}')
    expect(JSON.parse(purged.body).purged).toBeGreaterThanOrEqual(1)
    expect((await send(a.url, '/p', H)).headers['cache-status']).toBe('switchyard; fwd=miss; stored')
  })

  it('keeps serving, quickly, while Redis is down (every request a miss)', async () => {
    const own = await startRedis()
    const up = await startUpstream('origin', (req, res) => reply(res, req, 200, { 'cache-control': 'max-age=600' }, 'fine'))
    open.push(up)
    const gw = await startGateway({
      cache: { store: 'redis', redis: own.url },
      pools: { main: { backends: [up.url] } },
      routes: [{ name: 'cached', match: { path: '/' }, pool: 'main', cache: {} }],
    })
    open.push(gw)
    await own.stop()
    {
      await waitFor(async () => (await send(gw.url, '/x', H)).headers['cache-status'] === 'switchyard; fwd=miss; detail=store-error', 3000, 20, 'outage noticed')
      const started = Date.now()
      const r = await send(gw.url, '/y', H)
      expect(Date.now() - started).toBeLessThan(500)
      expect(r.status).toBe(200)
      expect(r.body).toBe('fine')
    }
  })

  it('a POST through one gateway invalidates the entry for both', async () => {
    const { a, b } = await two()
    await send(a.url, '/w', H)
    expect((await send(b.url, '/w', H)).headers['cache-status']).toBe('switchyard; hit')
    await send(b.url, '/w', H, 'POST', 'x')
    expect((await send(a.url, '/w', H)).headers['cache-status']).toBe('switchyard; fwd=miss; stored')
  })
})
