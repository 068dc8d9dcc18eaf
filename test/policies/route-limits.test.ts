/**
 * Per-route `bodyLimit` and `timeouts.response` over real sockets: a route may allow less or
 * more body than server.bodyLimit (declared and streamed bodies), and answer 504 sooner or later
 * than its pool's response timeout.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { Readable } from 'node:stream'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup(routes: Record<string, unknown>[], server: Record<string, unknown> = {}, pool: Record<string, unknown> = {}): Promise<{ gw: StartedGateway; up: TestUpstream }> {
  const up = await startUpstream('up', async (req, res, body) => {
    const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0)
    if (delay > 0) await new Promise((r) => setTimeout(r, delay))
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end(String(body.length))
  })
  cleanups.push(() => up.close())
  const gw = await startGateway({ server, pools: { main: { backends: [up.url], ...pool } }, routes })
  cleanups.push(() => gw.close())
  return { gw, up }
}

describe('per-route bodyLimit', () => {
  it('a smaller route limit refuses declared and streamed bodies with 413 JSON, never forwarding them', async () => {
    const { gw, up } = await setup([
      { name: 'small', match: { path: '/small' }, pool: 'main', bodyLimit: '1kb' },
      { name: 'rest', match: { path: '/' }, pool: 'main' },
    ])
    const declared = await request(`${gw.url}/small`, { method: 'POST', body: Buffer.alloc(2048) })
    expect(declared.statusCode).toBe(413)
    expect(await declared.body.json()).toMatchObject({ statusCode: 413, message: 'request body exceeds 1024 bytes' })
    const streamed = await request(`${gw.url}/small`, { method: 'POST', body: Readable.from([Buffer.alloc(800), Buffer.alloc(800)]) })
    expect(streamed.statusCode).toBe(413)
    await streamed.body.dump()
    expect(up.requests.filter((r) => r.url === '/small' && r.body.length > 1024)).toHaveLength(0)
    const other = await request(`${gw.url}/other`, { method: 'POST', body: Buffer.alloc(2048) })
    expect(other.statusCode).toBe(200)
    expect(await other.body.text()).toBe('2048')
  })

  it('a larger route limit admits bodies the server limit would refuse', async () => {
    const { gw } = await setup(
      [
        { name: 'upload', match: { path: '/upload' }, pool: 'main', bodyLimit: '64kb' },
        { name: 'rest', match: { path: '/' }, pool: 'main' },
      ],
      { bodyLimit: '4kb' },
    )
    const big = await request(`${gw.url}/upload`, { method: 'POST', body: Buffer.alloc(32 * 1024) })
    expect(big.statusCode).toBe(200)
    expect(await big.body.text()).toBe(String(32 * 1024))
    const refused = await request(`${gw.url}/other`, { method: 'POST', body: Buffer.alloc(32 * 1024) })
    expect(refused.statusCode).toBe(413)
    await refused.body.dump()
  })
})

describe('per-route timeouts', () => {
  // undici checks timeouts on a coarse clock (up to ~0.5 s late), hence the wide margins.
  it("a shorter route response timeout answers 504 before the pool's would", async () => {
    const { gw } = await setup([{ name: 'quick', match: { path: '/' }, pool: 'main', timeouts: { response: '100ms' } }], {}, { timeouts: { response: '5s' }, retry: { attempts: 0 } })
    const quick = await request(`${gw.url}/q?delay=1500`)
    expect(quick.statusCode).toBe(504)
    expect(await quick.body.json()).toMatchObject({ statusCode: 504, error: 'Gateway Timeout' })
  })

  it("a longer route response timeout waits past the pool's", async () => {
    const { gw } = await setup([{ name: 'patient', match: { path: '/' }, pool: 'main', timeouts: { response: '5s' } }], {}, { timeouts: { response: '200ms' }, retry: { attempts: 0 } })
    const patient = await request(`${gw.url}/p?delay=1200`)
    expect(patient.statusCode).toBe(200)
    await patient.body.dump()
  })
})

describe('per-route retry', () => {
  it("a route's retry replaces its pool's: no retry here, a retry there", async () => {
    const dead = await startUpstream('dead')
    const deadUrl = dead.url
    await dead.close()
    const live = await startUpstream('live')
    cleanups.push(() => live.close())
    const gw = await startGateway({
      pools: { main: { algorithm: 'round-robin', backends: [deadUrl, live.url], retry: { attempts: 1 }, circuitBreaker: false } },
      routes: [
        { name: 'no-retry', match: { path: '/once' }, pool: 'main', retry: { attempts: 0 } },
        { name: 'default', match: { path: '/' }, pool: 'main' },
      ],
    })
    cleanups.push(() => gw.close())
    // Round robin alternates: over two requests one starts on the dead backend.
    const once = [await fetch(`${gw.url}/once`), await fetch(`${gw.url}/once`)].map((r) => r.status).sort()
    expect(once).toEqual([200, 502])
    const retried = [await fetch(`${gw.url}/x`), await fetch(`${gw.url}/x`)].map((r) => r.status)
    expect(retried).toEqual([200, 200])
  })
})
