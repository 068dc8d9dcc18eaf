import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  gw = undefined
})

async function servedBy(n: number): Promise<Set<string>> {
  const seen = new Set<string>()
  for (let i = 0; i < n; i++) {
    const res = await request(`${gw!.url}/x`)
    expect(res.statusCode).toBe(200)
    seen.add(String(res.headers['x-upstream']))
    await res.body.dump()
  }
  return seen
}

describe('health checks in the gateway', () => {
  it('take a backend out of rotation and bring it back', async () => {
    let healthStatus = 200
    const flaky = await startUpstream('flaky', (req, res) => {
      if (req.url === '/health') res.writeHead(healthStatus).end()
      else res.writeHead(200, { 'x-upstream': 'flaky' }).end('ok')
    })
    ups = [flaky, await startUpstream('steady')]
    gw = await startGateway(
      simpleConfig(
        ups.map((u) => u.url),
        { pool: { healthCheck: { path: '/health', interval: '50ms', timeout: '1s', healthyThreshold: 1, unhealthyThreshold: 1 } } },
      ),
    )
    expect(await servedBy(4)).toEqual(new Set(['flaky', 'steady']))
    healthStatus = 500
    await waitFor(async () => {
      const pools = (await (await request(`${gw!.adminUrl}/api/pools`)).body.json()) as { backends: { url: string; healthy: boolean }[] }[]
      return pools[0]!.backends.find((b) => b.url === flaky.url)!.healthy === false
    }, 3000, 20, 'flaky marked unhealthy')
    const before = flaky.requests.filter((r) => r.url === '/x').length
    expect(await servedBy(6)).toEqual(new Set(['steady']))
    expect(flaky.requests.filter((r) => r.url === '/x').length).toBe(before)
    const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text()
    expect(metrics).toContain(`switchyard_backend_up{pool="main",backend="${flaky.url}"} 0`)
    healthStatus = 200
    await waitFor(() => gw!.pools.get('main')!.backends[0]!.healthy, 3000, 20, 'flaky back')
    expect(await servedBy(4)).toEqual(new Set(['flaky', 'steady']))
  })
})
