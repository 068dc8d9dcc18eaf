import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
})

describe('admin listener', () => {
  it('GET /health answers {"status":"ok"} without a token; everything else needs the bearer token', async () => {
    up = await startUpstream('a')
    gw = await startGateway(simpleConfig([up.url], { top: { admin: { token: 's3cret' } } }))
    const health = await request(`${gw.adminUrl}/health`)
    expect(health.statusCode).toBe(200)
    expect(await health.body.json()).toEqual({ status: 'ok' })

    for (const [method, path] of [['GET', '/metrics'], ['GET', '/api/pools'], ['GET', '/api/routes'], ['POST', '/api/reload']] as const) {
      const none = await request(`${gw.adminUrl}${path}`, { method })
      expect(none.statusCode, `${method} ${path} without token`).toBe(401)
      expect(await none.body.json()).toMatchObject({ statusCode: 401, error: 'Unauthorized' })
      const wrong = await request(`${gw.adminUrl}${path}`, { method, headers: { authorization: 'Bearer s3cre' } })
      expect(wrong.statusCode).toBe(401)
      await wrong.body.text()
    }
    const ok = await request(`${gw.adminUrl}/api/pools`, { headers: { authorization: 'Bearer s3cret' } })
    expect(ok.statusCode).toBe(200)
    await ok.body.text()
  })

  it('GET /api/pools has the SPEC shape', async () => {
    up = await startUpstream('a')
    gw = await startGateway({
      pools: {
        main: { algorithm: 'least-connections', backends: [up.url, { url: 'http://127.0.0.1:1', weight: 3 }], fallback: 'spare' },
        spare: { backends: [up.url] },
      },
      routes: [{ name: 'r', match: { path: '/' }, pool: 'main' }],
    })
    const pools = (await (await request(`${gw.adminUrl}/api/pools`)).body.json()) as unknown[]
    expect(pools).toEqual([
      {
        name: 'main',
        algorithm: 'least-connections',
        fallback: 'spare',
        backends: [
          { url: up.url, weight: 1, healthy: true, circuit: 'closed', activeRequests: 0, state: 'enabled' },
          { url: 'http://127.0.0.1:1', weight: 3, healthy: true, circuit: 'closed', activeRequests: 0, state: 'enabled' },
        ],
      },
      { name: 'spare', algorithm: 'round-robin', fallback: null, backends: [{ url: up.url, weight: 1, healthy: true, circuit: 'closed', activeRequests: 0, state: 'enabled' }] },
    ])
  })

  it('GET /metrics exposes the SPEC series with their labels', async () => {
    up = await startUpstream('a')
    gw = await startGateway(simpleConfig([up.url]))
    await (await request(`${gw.url}/x`)).body.text()
    await (await request(`${gw.url}/y`)).body.text()
    const res = await request(`${gw.adminUrl}/metrics`)
    expect(res.headers['content-type']).toContain('text/plain')
    const text = await res.body.text()
    expect(text).toContain('switchyard_requests_total{route="all",pool="main",status="200",method="GET"} 2')
    expect(text).toMatch(/switchyard_request_duration_seconds_bucket\{le="[^"]+",route="all",pool="main",class="2xx"\} \d/)
    expect(text).toContain(`switchyard_backend_up{pool="main",backend="${up.url}"} 1`)
    expect(text).toContain(`switchyard_circuit_state{pool="main",backend="${up.url}"} 0`)
    expect(text).toContain('# TYPE switchyard_cache_requests_total counter')
    expect(text).toContain('# TYPE switchyard_ratelimit_rejected_total counter')
  })

  it('writes one access-log line per request with the routing decision', async () => {
    up = await startUpstream('a')
    gw = await startGateway(simpleConfig([up.url]))
    await (await request(`${gw.url}/x?q=1`, { headers: { 'x-request-id': 'log-1' } })).body.text()
    const line = gw.logs.find((l) => l.type === 'access' && l.reqId === 'log-1')!
    expect(line).toMatchObject({ method: 'GET', path: '/x', route: 'all', pool: 'main', backend: up.url, attempts: 1, status: 200 })
    expect(typeof line.upstreamMs).toBe('number')
    expect(typeof line.totalMs).toBe('number')
    expect(typeof line.bytes).toBe('number')
  })
})
