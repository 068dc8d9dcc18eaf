/**
 * SPEC §5, last resort: a pool whose backends are all unavailable (health or circuit) and
 * whose fallback chain has nothing available tries its backends anyway before answering 503,
 * so one failing health endpoint or a burst of failures on a one-backend pool is not an outage.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  gw = undefined
})

async function panicCount(pool: string): Promise<number> {
  const text = await (await request(`${gw!.adminUrl}/metrics`)).body.text()
  const m = new RegExp(`^switchyard_pool_panic_total\\{pool="${pool}"\\} (\\d+)`, 'm').exec(text)
  return m ? Number(m[1]) : 0
}

describe('last resort before 503', () => {
  it('a one-backend pool whose breaker opened keeps serving, and a success closes the breaker', async () => {
    let failing = true
    const up = await startUpstream('only', (req, res) => {
      if (failing) {
        req.socket.destroy() // a reset
        return
      }
      res.writeHead(200, { 'x-upstream': 'only' })
      res.end('ok')
    })
    ups = [up]
    gw = await startGateway({
      pools: { solo: { backends: [up.url], retry: { attempts: 0 }, circuitBreaker: { consecutiveFailures: 5, openDuration: '30s' } } },
      routes: [{ name: 'all', match: { path: '/' }, pool: 'solo' }],
    })
    for (let i = 0; i < 5; i++) {
      const r = await request(`${gw.url}/x`)
      await r.body.dump()
      expect(r.statusCode).toBe(502)
    }
    const backend = gw.pools.get('solo')!.backends[0]!
    expect(backend.breaker.state).toBe('open')
    failing = false
    const res = await request(`${gw.url}/x`)
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('ok')
    expect(backend.breaker.state).toBe('closed')
    expect(await panicCount('solo')).toBe(1)
    const access = gw.logs.filter((l) => l.type === 'access' && l.status === 200)
    expect(access.at(-1)).toMatchObject({ pool: 'solo', backend: up.url })
  })

  it('two backends serving 200 behind a broken health endpoint keep answering 200', async () => {
    const handler = (name: string) => (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      if (req.url === '/health') {
        res.writeHead(503)
        res.end()
        return
      }
      res.writeHead(200, { 'x-upstream': name })
      res.end(name)
    }
    ups = [await startUpstream('a', handler('a')), await startUpstream('b', handler('b'))]
    gw = await startGateway({
      pools: { web: { backends: ups.map((u) => u.url), healthCheck: { path: '/health', interval: '50ms', timeout: '1s', unhealthyThreshold: 1 } } },
      routes: [{ name: 'all', match: { path: '/' }, pool: 'web' }],
    })
    await waitFor(() => !gw!.pools.get('web')!.hasAvailable(), 3000, 20, 'both backends marked down')
    const served = new Set<string>()
    for (let i = 0; i < 6; i++) {
      const r = await request(`${gw.url}/x`)
      expect(r.statusCode).toBe(200)
      served.add(await r.body.text())
    }
    // The rotation spreads last-resort requests over the pool.
    expect([...served].sort()).toEqual(['a', 'b'])
    expect(await panicCount('web')).toBe(6)
  })

  it('a healthy fallback is preferred to the last resort', async () => {
    ups = [await startUpstream('primary'), await startUpstream('static')]
    ups[0]!.setHandler((req, res) => {
      res.writeHead(req.url === '/health' ? 503 : 200, { 'x-upstream': 'primary' })
      res.end()
    })
    gw = await startGateway({
      pools: {
        primary: { backends: [ups[0]!.url], fallback: 'static', healthCheck: { path: '/health', interval: '50ms', timeout: '1s', unhealthyThreshold: 1 } },
        static: { backends: [ups[1]!.url] },
      },
      routes: [{ name: 'all', match: { path: '/' }, pool: 'primary' }],
    })
    await waitFor(() => !gw!.pools.get('primary')!.hasAvailable(), 3000, 20, 'primary down')
    const r = await request(`${gw.url}/x`)
    await r.body.dump()
    expect(r.headers['x-upstream']).toBe('static')
    expect(await panicCount('primary')).toBe(0)
  })

  it('explain shows the last resort and the backend it would try', async () => {
    const up = await startUpstream('only', (req, res) => {
      res.writeHead(req.url === '/health' ? 500 : 200)
      res.end()
    })
    ups = [up]
    gw = await startGateway({
      pools: { solo: { backends: [up.url], healthCheck: { path: '/health', interval: '50ms', timeout: '1s', unhealthyThreshold: 1 } } },
      routes: [{ name: 'all', match: { path: '/' }, pool: 'solo' }],
    })
    await waitFor(() => !gw!.pools.get('solo')!.hasAvailable(), 3000, 20, 'backend down')
    const answer = (await (await request(`${gw.adminUrl}/api/explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ method: 'GET', host: 'a', path: '/x' }) })).body.json()) as {
      outcome: { action: string }
      backend: { url: string; lastResort?: boolean }
      pools: { pool: string; lastResort?: boolean }[]
    }
    expect(answer.outcome.action).toBe('forward')
    expect(answer.backend).toMatchObject({ url: up.url, lastResort: true })
    expect(answer.pools.at(-1)).toMatchObject({ pool: 'solo', lastResort: true })
  })
})
