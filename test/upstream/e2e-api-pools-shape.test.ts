import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  gw = undefined
})

describe('GET /api/pools', () => {
  it('lists pools in configuration order with the SPEC fields and live backend state', async () => {
    ups = [await startUpstream('a'), await startUpstream('b'), await startUpstream('s')]
    gw = await startGateway({
      pools: {
        users: {
          algorithm: 'weighted-round-robin',
          backends: [ups[0]!.url, { url: ups[1]!.url, weight: 3 }],
          fallback: 'static',
          circuitBreaker: { consecutiveFailures: 1, openDuration: '1m', maxEjectionPercent: 100 },
        },
        static: { backends: [ups[2]!.url] },
      },
      routes: [{ name: 'all', match: { path: '/' }, pool: 'users' }],
    })
    const b = gw.pools.get('users')!.backends[1]!
    gw.pools.get('users')!.acquire(b)!.end('failure', 1, 'connect-error')
    const held = gw.pools.get('users')!.acquire(gw.pools.get('users')!.backends[0]!)!
    const res = await request(`${gw.adminUrl}/api/pools`)
    expect(res.statusCode).toBe(200)
    expect(await res.body.json()).toEqual([
      {
        name: 'users',
        algorithm: 'weighted-round-robin',
        fallback: 'static',
        backends: [
          { url: ups[0]!.url, weight: 1, healthy: true, circuit: 'closed', activeRequests: 1, state: 'enabled' },
          { url: ups[1]!.url, weight: 3, healthy: true, circuit: 'open', activeRequests: 0, state: 'enabled' },
        ],
      },
      {
        name: 'static',
        algorithm: 'round-robin',
        fallback: null,
        backends: [{ url: ups[2]!.url, weight: 1, healthy: true, circuit: 'closed', activeRequests: 0, state: 'enabled' }],
      },
    ])
    held.end('cancel', 0)
    const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text()
    expect(metrics).toContain(`switchyard_circuit_state{pool="users",backend="${ups[1]!.url}"} 2`)
    expect(metrics).toContain(`switchyard_backend_up{pool="users",backend="${ups[0]!.url}"} 1`)
  })
})
