/**
 * Active health checks as configured: an HTTP probe sends the configured method, headers and
 * Host; `type: tcp` only connects (a backend that speaks no HTTP is healthy while it accepts,
 * down once it refuses); the last probe's outcome, status, latency and error are in /api/pools.
 */
import { afterEach, describe, expect, it } from 'vitest'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  gw = undefined
})

type Json = Record<string, any>
const pools = async (): Promise<Json[]> => (await (await request(`${gw!.adminUrl}/api/pools`)).body.json()) as Json[]
// A generous timeout: under a loaded machine a probe must not time out instead of passing or being refused.
const FAST = { interval: '40ms', timeout: '3s', healthyThreshold: 1, unhealthyThreshold: 1 }

describe('health check probes', () => {
  it('send the configured method, headers and Host, and report the last probe in /api/pools', async () => {
    let status = 200
    const u = await startUpstream('a', (req, res) => void res.writeHead(req.url === '/status' ? status : 404).end())
    ups = [u]
    gw = await startGateway(simpleConfig([u.url], { pool: { healthCheck: { ...FAST, path: '/status', method: 'head', headers: { 'X-Probe': 'switchyard' }, host: 'svc.internal' } } }))
    const probe = (await waitFor(() => u.requests.find((r) => r.url === '/status'), 3000, 10, 'a probe'))!
    expect(probe.method).toBe('HEAD')
    expect(probe.headers['x-probe']).toBe('switchyard')
    expect(probe.headers.host).toBe('svc.internal')
    const good = await waitFor(async () => (await pools())[0]!.backends[0].lastProbe, 3000, 20, 'a recorded probe')
    expect(good).toMatchObject({ ok: true, status: 200 })
    expect(typeof good.latencyMs).toBe('number')
    expect(Date.parse(good.time)).not.toBeNaN()

    status = 503
    const bad = await waitFor(async () => {
      const b = (await pools())[0]!.backends[0]
      return b.healthy === false ? b : undefined
    }, 3000, 20, 'the backend down')
    expect(bad.lastProbe).toMatchObject({ ok: false, status: 503, error: 'status 503' })
  })

  it('type tcp only connects: a backend that speaks no HTTP is healthy while it accepts, down once it refuses', async () => {
    let received = 0
    const sockets = new Set<net.Socket>()
    const server = net.createServer((s) => {
      sockets.add(s)
      s.on('data', (d) => (received += d.length))
      s.on('error', () => {})
      s.on('close', () => sockets.delete(s))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      gw = await startGateway(simpleConfig([url], { pool: { healthCheck: { ...FAST, type: 'tcp' } } }))
      const first = await waitFor(async () => (await pools())[0]!.backends[0].lastProbe, 3000, 20, 'a tcp probe')
      expect(first).toMatchObject({ ok: true })
      expect(first.status).toBeUndefined()
      expect((await pools())[0]!.backends[0].healthy).toBe(true)
      expect(received).toBe(0)

      await new Promise<void>((r) => {
        server.close(() => r())
        for (const s of sockets) s.destroy()
      })
      const down = await waitFor(async () => {
        const b = (await pools())[0]!.backends[0]
        return b.healthy === false ? b : undefined
      }, 3000, 20, 'the backend down')
      // Refused, or reset when a probe's connection was accepted by the kernel as the listener closed.
      expect(down.lastProbe).toMatchObject({ ok: false, error: expect.stringMatching(/^ECONN(REFUSED|RESET)$/) })
    } finally {
      if (server.listening) server.close()
    }
  })
})
