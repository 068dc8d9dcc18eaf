import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/upstream.js'
import { rawExchange, statusOf } from '../helpers/raw-http.js'
import { cacheRig, reply, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

describe('cache: stale-while-revalidate', () => {
  it('serves the stale entry at once and refreshes it in the background, once', async () => {
    let version = 1
    let release: (() => void) | undefined
    rig = await cacheRig(
      async (req, res) => {
        if (version > 1) await new Promise<void>((r) => (release = r)) // a slow refresh
        reply(res, req, 200, { 'cache-control': 'max-age=60', age: '61' }, `v${version}`)
      },
      { cache: { staleWhileRevalidate: '5m' } },
    )
    await rig.get('/s')
    version = 2
    const replies = await Promise.all([rig.get('/s'), rig.get('/s'), rig.get('/s')])
    for (const r of replies) {
      expect(r.body).toBe('v1')
      expect(r.headers['cache-status']).toBe('switchyard; hit; detail=stale-while-revalidate')
    }
    await waitFor(() => release !== undefined, 2000, 10, 'background refresh to reach the origin')
    expect(rig.hits('/s')).toBe(2) // one fill, one refresh, whatever the number of stale hits
    release!()
    await waitFor(async () => (await rig!.get('/s')).body === 'v2', 2000, 20, 'refreshed entry')
  })

  it('finishes the background refresh after the client that caused it has gone', async () => {
    let version = 1
    let release: (() => void) | undefined
    rig = await cacheRig(
      async (req, res) => {
        if (version > 1) await new Promise<void>((r) => (release = r))
        reply(res, req, 200, { 'cache-control': 'max-age=60', age: '61' }, `v${version}`)
      },
      { cache: { staleWhileRevalidate: '5m' } },
    )
    await rig.get('/g')
    version = 2
    // Connection: close: the gateway closes this connection after the stale answer, while the
    // refresh it started is still waiting for the origin.
    const { host, port } = new URL(rig.gw.url)
    const raw = await rawExchange(Number(port), `GET /g HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
    expect(statusOf(raw)).toBe(200)
    expect(raw).toContain('v1')
    await waitFor(() => release !== undefined, 2000, 10, 'background refresh to reach the origin')
    release!()
    await waitFor(async () => (await rig!.get('/g')).body === 'v2', 2000, 20, 'refreshed entry')
  })

  it('takes the window from the response directive (RFC 5861)', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=60, stale-while-revalidate=300', age: '61' }, 'x'))
    await rig.get('/d')
    expect((await rig.get('/d')).headers['cache-status']).toBe('switchyard; hit; detail=stale-while-revalidate')
  })
})
