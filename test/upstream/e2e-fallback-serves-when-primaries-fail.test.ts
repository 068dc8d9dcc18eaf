import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { freePort, startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  gw = undefined
})

function config(primaries: string[], fallback: string[], primaryExtra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    pools: {
      primary: { backends: primaries, fallback: 'static', retry: { attempts: 1 }, ...primaryExtra },
      static: { backends: fallback },
    },
    routes: [{ name: 'all', match: { path: '/' }, pool: 'primary' }],
  }
}

describe('fallback pools', () => {
  it('serve GET and POST when every primary refuses connections', async () => {
    const dead = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`]
    ups = [await startUpstream('static')]
    gw = await startGateway(config(dead, [ups[0]!.url]))
    const get = await request(`${gw.url}/page`)
    expect(get.statusCode).toBe(200)
    expect(get.headers['x-upstream']).toBe('static')
    await get.body.dump()
    // Connect errors reached no upstream, so even a POST may degrade to the fallback.
    const post = await request(`${gw.url}/form`, { method: 'POST', body: 'x=1' })
    expect(post.statusCode).toBe(200)
    expect(((await post.body.json()) as { upstream: string }).upstream).toBe('static')
    expect(ups[0]!.requests.map((r) => r.method)).toEqual(['GET', 'POST'])
    const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text()
    expect(metrics).toMatch(/switchyard_fallback_total\{route="all",from="primary",to="static"\} 2/)
  })

  it('serve idempotent requests when every primary answers 503', async () => {
    const failing = (_req: unknown, res: { writeHead(s: number): { end(b: string): void } }): void => res.writeHead(503).end('down')
    ups = [await startUpstream('p1', failing), await startUpstream('p2', failing), await startUpstream('static')]
    gw = await startGateway(config([ups[0]!.url, ups[1]!.url], [ups[2]!.url]))
    const res = await request(`${gw.url}/page`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['x-upstream']).toBe('static')
    await res.body.dump()
    // Both primaries were tried once (one try plus one retry), then the fallback.
    expect(ups[0]!.requests.length + ups[1]!.requests.length).toBe(2)
  })

  it('take traffic at once, without touching the primaries, once their circuits are open', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`
    ups = [await startUpstream('static')]
    gw = await startGateway(
      config([dead], [ups[0]!.url], { circuitBreaker: { consecutiveFailures: 1, openDuration: '1m', maxEjectionPercent: 100 } }),
    )
    const first = await request(`${gw.url}/a`)
    await first.body.dump()
    expect(first.statusCode).toBe(200)
    const pool = gw.pools.get('primary')!
    expect(pool.hasAvailable()).toBe(false)
    const second = await request(`${gw.url}/b`)
    await second.body.dump()
    expect(second.statusCode).toBe(200)
    expect(second.headers['x-upstream']).toBe('static')
  })

  it('answer 503 JSON with Retry-After when the fallback has nothing either', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`
    const healthCheck = { path: '/health', interval: '50ms', timeout: '1s', unhealthyThreshold: 1 }
    gw = await startGateway({
      pools: {
        primary: { backends: [dead], fallback: 'static', healthCheck },
        static: { backends: [dead], healthCheck },
      },
      routes: [{ name: 'all', match: { path: '/' }, pool: 'primary' }],
    })
    await waitFor(() => !gw!.pools.get('primary')!.hasAvailable() && !gw!.pools.get('static')!.hasAvailable(), 3000, 20, 'both pools down')
    const res = await request(`${gw.url}/x`)
    expect(res.statusCode).toBe(503)
    expect(res.headers['retry-after']).toBeDefined()
    expect(await res.body.json()).toMatchObject({ statusCode: 503, error: 'Service Unavailable' })
  })
})
