import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { freePort, startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  gw = undefined
})

function config(backends: unknown[]): Record<string, unknown> {
  return {
    pools: { main: { backends, circuitBreaker: { consecutiveFailures: 1, openDuration: '1m', maxEjectionPercent: 100 } } },
    routes: [{ name: 'all', match: { path: '/' }, pool: 'main' }],
  }
}

describe('a configuration reload', () => {
  it('keeps breaker state of backends that remain, takes new weights, and drops removed backends', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`
    ups = [await startUpstream('a'), await startUpstream('b')]
    gw = await startGateway(config([dead, ups[0]!.url]))
    // The dead backend fails once (retried on a), and its circuit opens.
    for (let i = 0; i < 2; i++) {
      const res = await request(`${gw.url}/x`)
      expect(res.statusCode).toBe(200)
      await res.body.dump()
    }
    const pool = gw.pools.get('main')!
    const deadBackend = pool.backends[0]!
    expect(deadBackend.breaker.state).toBe('open')

    const result = await gw.reload(config([dead, { url: ups[0]!.url, weight: 4 }, ups[1]!.url]))
    expect(result.ok).toBe(true)
    expect(gw.pools.get('main')!.backends[0]).toBe(deadBackend)
    expect(deadBackend.breaker.state).toBe('open') // not hammered again after the reload
    const pools = (await (await request(`${gw.adminUrl}/api/pools`)).body.json()) as { backends: { url: string; weight: number; circuit: string }[] }[]
    expect(pools[0]!.backends).toEqual([
      expect.objectContaining({ url: dead, weight: 1, circuit: 'open' }),
      expect.objectContaining({ url: ups[0]!.url, weight: 4, circuit: 'closed' }),
      expect.objectContaining({ url: ups[1]!.url, weight: 1, circuit: 'closed' }),
    ])
    const seen = new Set<string>()
    for (let i = 0; i < 4; i++) {
      const res = await request(`${gw.url}/x`)
      expect(res.statusCode).toBe(200)
      seen.add(String(res.headers['x-upstream']))
      await res.body.dump()
    }
    expect(seen).toEqual(new Set(['a', 'b']))

    await gw.reload(config([ups[1]!.url]))
    expect(deadBackend.isAvailable()).toBe(false)
    expect(gw.pools.get('main')!.backends.map((b) => b.origin)).toEqual([ups[1]!.url])
  })
})
