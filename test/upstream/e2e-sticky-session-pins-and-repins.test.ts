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

function cookieOf(res: Awaited<ReturnType<typeof request>>): string | undefined {
  const raw = res.headers['set-cookie']
  const line = Array.isArray(raw) ? raw.find((c) => c.startsWith('sy_backend=')) : raw
  return line?.startsWith('sy_backend=') ? line.slice('sy_backend='.length).split(';')[0] : undefined
}

describe('sticky sessions through the gateway', () => {
  it('pin a client to the backend that served it, and re-pin when that backend is unavailable', async () => {
    let downStatus = 200
    const mk = (name: string) =>
      startUpstream(name, (req, res) => {
        if (req.url === '/health') return void res.writeHead(name === 'b' ? downStatus : 200).end()
        res.writeHead(200, { 'x-upstream': name }).end(name)
      })
    ups = await Promise.all(['a', 'b', 'c'].map(mk))
    gw = await startGateway(
      simpleConfig(
        ups.map((u) => u.url),
        {
          pool: {
            stickySession: { cookie: 'sy_backend', ttl: '1h' },
            healthCheck: { path: '/health', interval: '50ms', timeout: '1s', healthyThreshold: 1, unhealthyThreshold: 1 },
          },
        },
      ),
    )
    // Round-robin places new clients: the second new client lands on b.
    await (await request(`${gw.url}/x`)).body.dump()
    const first = await request(`${gw.url}/x`)
    expect(first.headers['x-upstream']).toBe('b')
    await first.body.dump()
    const token = cookieOf(first)!
    expect(token).toMatch(/^[A-Za-z0-9_-]{16}$/)
    expect(token).not.toContain('127.0.0.1')
    for (let i = 0; i < 5; i++) {
      const res = await request(`${gw.url}/x`, { headers: { cookie: `sy_backend=${token}` } })
      expect(res.headers['x-upstream']).toBe('b')
      expect(cookieOf(res)).toBeUndefined() // already pinned: no new cookie
      await res.body.dump()
    }
    downStatus = 503
    await waitFor(() => !gw!.pools.get('main')!.backends[1]!.healthy, 3000, 20, 'b down')
    const moved = await request(`${gw.url}/x`, { headers: { cookie: `sy_backend=${token}` } })
    expect(moved.statusCode).toBe(200)
    const now = String(moved.headers['x-upstream'])
    expect(now).not.toBe('b')
    const newToken = cookieOf(moved)!
    expect(newToken).toBeDefined()
    expect(newToken).not.toBe(token)
    await moved.body.dump()
    for (let i = 0; i < 3; i++) {
      const res = await request(`${gw.url}/x`, { headers: { cookie: `sy_backend=${newToken}` } })
      expect(res.headers['x-upstream']).toBe(now)
      await res.body.dump()
    }
  })
})
