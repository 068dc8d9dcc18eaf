import { afterEach, describe, expect, it } from 'vitest'
import { cacheRig, reply, send, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

// `Age: 61` with `max-age=60` makes an entry stale the moment it is stored: no sleeping.
const STALE_ON_ARRIVAL = { 'cache-control': 'max-age=60', age: '61' }

describe('cache: stale-if-error', () => {
  it('serves the stale entry when the origin is down (connection refused)', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, STALE_ON_ARRIVAL, 'last good'), { cache: { staleIfError: '5m' }, pool: { retry: { attempts: 0 } } })
    expect((await rig.get('/d')).headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    await rig.up.close()
    const r = await rig.get('/d')
    expect(r.status).toBe(200)
    expect(r.body).toBe('last good')
    expect(r.headers['cache-status']).toBe('switchyard; fwd=stale; detail=stale-if-error')
    expect(Number(r.headers.age)).toBeGreaterThanOrEqual(61)
  })

  it('serves the stale entry when every backend is unavailable (the forward answers 503)', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, STALE_ON_ARRIVAL, 'last good'), {
      cache: { staleIfError: '5m' },
      pool: { retry: { attempts: 0 }, circuitBreaker: { consecutiveFailures: 1, openDuration: '1m', maxEjectionPercent: 100 } },
    })
    await rig.get('/o')
    await rig.up.close()
    expect((await rig.get('/o')).headers['cache-status']).toBe('switchyard; fwd=stale; detail=stale-if-error') // 502, opens the breaker
    const pools = JSON.parse((await send(rig.gw.adminUrl!, '/api/pools')).body) as { backends: { circuit: string }[] }[]
    expect(pools[0]!.backends[0]!.circuit).toBe('open')
    const r = await rig.get('/o')
    expect(r.status).toBe(200)
    expect(r.body).toBe('last good')
    // Without a stored response the same request is the gateway's 503.
    expect((await rig.get('/never-stored')).status).toBe(503)
  })

  it('serves the stale entry on a 5xx from the origin', async () => {
    let fail = false
    rig = await cacheRig((req, res) => (fail ? reply(res, req, 503, {}, 'down') : reply(res, req, 200, STALE_ON_ARRIVAL, 'last good')), {
      cache: { staleIfError: '5m' },
    })
    await rig.get('/e')
    fail = true
    const r = await rig.get('/e')
    expect(r.status).toBe(200)
    expect(r.body).toBe('last good')
    expect(r.headers['cache-status']).toBe('switchyard; fwd=stale; fwd-status=503; detail=stale-if-error')
  })

  it('serves the stale entry when the origin times out', async () => {
    let hang = false
    rig = await cacheRig(
      (req, res) => {
        if (hang) return // never answers; the pool's response timeout fires
        reply(res, req, 200, STALE_ON_ARRIVAL, 'last good')
      },
      { cache: { staleIfError: '5m' }, pool: { timeouts: { response: '200ms' }, retry: { attempts: 0 } } },
    )
    await rig.get('/t')
    hang = true
    const r = await rig.get('/t')
    expect(r.status).toBe(200)
    expect(r.body).toBe('last good')
  })

  it('takes stale-if-error from the response (RFC 5861) when the route sets none', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { ...STALE_ON_ARRIVAL, 'cache-control': 'max-age=60, stale-if-error=300' }, 'good'), {
      pool: { retry: { attempts: 0 } },
    })
    await rig.get('/r')
    await rig.up.close()
    expect((await rig.get('/r')).body).toBe('good')
  })

  it('answers the gateway error when no stale window allows it', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { ...STALE_ON_ARRIVAL, etag: '"x"' }, 'good'), {
      cache: { staleIfDisconnected: 0 },
      pool: { retry: { attempts: 0 } },
    })
    await rig.get('/n')
    await rig.up.close()
    const r = await rig.get('/n')
    expect(r.status).toBe(502)
    expect(JSON.parse(r.body)).toMatchObject({ statusCode: 502, error: 'Bad Gateway' })
  })

  it('never serves stale past must-revalidate', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=60, must-revalidate', age: '61' }, 'good'), {
      cache: { staleIfError: '5m' },
      pool: { retry: { attempts: 0 } },
    })
    await rig.get('/m')
    await rig.up.close()
    expect((await rig.get('/m')).status).toBe(502)
  })
})
