/**
 * One pool chain for the gateway's own requests: a mirror copy to a consistent-hash shadow pool
 * reaches the backend a plain request with the same key reaches, and a cache revalidation
 * (in the foreground, and in the background for stale-while-revalidate) reaches the backend
 * that filled the entry.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, waitFor, type ReceivedRequest, type TestUpstream, type UpstreamHandler } from '../helpers/upstream.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  gw = undefined
})

const KEYS = Array.from({ length: 20 }, (_, i) => `user-${i * 104729}`)

async function get(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const res = await request(url, { headers })
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
}

/** The names of the upstreams whose received requests satisfy `match`. */
function receivers(match: (r: ReceivedRequest) => boolean): string[] {
  return ups.filter((u) => u.requests.some(match)).map((u) => u.name)
}

describe('mirror copies walk the shadow pool\'s chain like plain requests', () => {
  it('the shadow backend that gets a key\'s copy is the one a plain request with that key reaches', async () => {
    const primary = await startUpstream('primary')
    const shadows = await Promise.all(['s1', 's2', 's3'].map((n) => startUpstream(n)))
    ups = [primary, ...shadows]
    gw = await startGateway({
      pools: {
        main: { backends: [primary.url] },
        shadow: { algorithm: 'consistent-hash', hashOn: 'header:x-user-id', backends: shadows.map((s) => s.url) },
      },
      routes: [
        { name: 'direct', match: { path: '/direct' }, pool: 'shadow' },
        { name: 'mirrored', match: { path: '/api' }, pool: 'main', mirror: { pool: 'shadow', percent: 100 } },
      ],
    })
    const direct = new Map<string, string>()
    const copied = new Map<string, string>()
    for (const key of KEYS) {
      const d = await get(`${gw.url}/direct/${key}`, { 'x-user-id': key })
      expect(d.status).toBe(200)
      direct.set(key, String(d.headers['x-upstream']))

      const m = await get(`${gw.url}/api/${key}`, { 'x-user-id': key })
      expect(m.status).toBe(200)
      expect(m.headers['x-upstream']).toBe('primary')
      const isCopy = (r: ReceivedRequest): boolean => r.url === `/api/${key}` && r.headers['x-switchyard-mirror'] === '1'
      await waitFor(() => receivers(isCopy).length > 0, 5000, 10, `the shadow copy for ${key}`)
      const got = receivers(isCopy)
      expect(got).toHaveLength(1)
      copied.set(key, got[0]!)
    }
    expect(copied).toEqual(direct)
    expect(new Set(direct.values()).size).toBeGreaterThanOrEqual(2)
    // The primary never got a copy, the shadows never got the client's own request.
    expect(primary.requests.every((r) => r.headers['x-switchyard-mirror'] === undefined)).toBe(true)
  })
})

/** An origin with an ETag per path that asks for revalidation on every use (max-age=0), answering 304 to a match. */
function revalidatingOrigin(name: string, cacheControl = 'max-age=0, must-revalidate'): UpstreamHandler {
  return (req, res) => {
    const etag = `"${req.url}"`
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag, 'cache-control': cacheControl, 'x-upstream': name })
      res.end()
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain', etag, 'cache-control': cacheControl, 'x-upstream': name })
    res.end(`${name} ${req.url}`)
  }
}

describe('cache revalidation walks the pool chain like the fill', () => {
  async function setup(cache: Record<string, unknown>, cacheControl?: string): Promise<StartedGateway> {
    ups = await Promise.all(['c1', 'c2', 'c3'].map((n) => startUpstream(n, revalidatingOrigin(n, cacheControl))))
    gw = await startGateway({
      pools: { ring: { algorithm: 'consistent-hash', hashOn: 'header:x-user-id', backends: ups.map((u) => u.url) } },
      routes: [{ name: 'cached', match: { path: '/' }, pool: 'ring', cache }],
    })
    return gw
  }

  it('a stale entry is revalidated on the backend that filled it', async () => {
    const g = await setup({ ttl: '1s' })
    const filledBy = new Map<string, string>()
    for (const key of KEYS) {
      const path = `/items/${key}`
      const fill = await get(`${g.url}${path}`, { 'x-user-id': key })
      expect(fill.status).toBe(200)
      expect(String(fill.headers['cache-status'])).toMatch(/fwd=miss; stored/)
      const fillers = receivers((r) => r.url === path)
      expect(fillers).toHaveLength(1)
      filledBy.set(key, fillers[0]!)

      const again = await get(`${g.url}${path}`, { 'x-user-id': key })
      expect(again.status).toBe(200)
      expect(again.body).toBe(`${fillers[0]} ${path}`)
      expect(again.headers['cache-status']).toBe('switchyard; fwd=stale; fwd-status=304; stored')
      const validators = receivers((r) => r.url === path && r.headers['if-none-match'] === `"${path}"`)
      expect(validators).toEqual([filledBy.get(key)])
    }
    expect(new Set(filledBy.values()).size).toBeGreaterThanOrEqual(2)
  })

  it('a background refresh (stale-while-revalidate) goes to the backend that filled the entry', async () => {
    const g = await setup({ staleWhileRevalidate: '1m' }, 'max-age=0')
    const filledBy = new Map<string, string>()
    for (const key of KEYS) {
      const path = `/bg/${key}`
      const fill = await get(`${g.url}${path}`, { 'x-user-id': key })
      expect(String(fill.headers['cache-status'])).toMatch(/fwd=miss; stored/)
      filledBy.set(key, receivers((r) => r.url === path)[0]!)

      const stale = await get(`${g.url}${path}`, { 'x-user-id': key })
      expect(stale.headers['cache-status']).toBe('switchyard; hit; detail=stale-while-revalidate')
      const isRefresh = (r: ReceivedRequest): boolean => r.url === path && r.headers['if-none-match'] === `"${path}"`
      await waitFor(() => receivers(isRefresh).length > 0, 5000, 10, `the background refresh of ${path}`)
      expect(receivers(isRefresh)).toEqual([filledBy.get(key)])
    }
    expect(new Set(filledBy.values()).size).toBeGreaterThanOrEqual(2)
  })
})
