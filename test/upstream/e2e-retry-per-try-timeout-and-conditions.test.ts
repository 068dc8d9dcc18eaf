/**
 * Retries over real sockets: a per-try timeout abandons a slow backend's try and the next
 * backend answers (a POST is never re-sent once its bytes may have reached a backend, unless
 * it carries an Idempotency-Key); the
 * `5xx` shorthand retries any 5xx; a 503 with Retry-After is passed on, not retried, unless
 * `honorRetryAfter: false`.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import type { ServerResponse } from 'node:http'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
let hanging: ServerResponse[] = []
afterEach(async () => {
  for (const r of hanging) r.destroy()
  hanging = []
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  gw = undefined
})

/** a never answers (until the test ends); b answers 200 at once. */
async function slowAndFast(): Promise<[TestUpstream, TestUpstream]> {
  const a = await startUpstream('a', (_req, res) => void hanging.push(res))
  const b = await startUpstream('b')
  ups = [a, b]
  return [a, b]
}

describe('perTryTimeout', () => {
  it('abandons a slow backend and tries the next one, well within the response timeout', async () => {
    const [a, b] = await slowAndFast()
    gw = await startGateway(simpleConfig([a.url, b.url], { pool: { timeouts: { response: '30s' }, retry: { attempts: 1, perTryTimeout: '1s', backoff: { base: '1ms', max: '1ms' } } } }))
    const res = await request(`${gw.url}/x`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['x-upstream']).toBe('b')
    await res.body.dump()
    expect(a.requests).toHaveLength(1)
    expect(b.requests).toHaveLength(1)
    // The abandoned try counts as a timeout against the slow backend.
    const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text()
    expect(metrics).toMatch(/switchyard_upstream_errors_total\{pool="main",kind="timeout"\} 1/)
  }, 5000)

  it('a POST that timed out on a backend is answered 504, never re-sent to another', async () => {
    const [a, b] = await slowAndFast()
    gw = await startGateway(simpleConfig([a.url, b.url], { pool: { retry: { attempts: 1, perTryTimeout: '150ms' } } }))
    const res = await request(`${gw.url}/x`, { method: 'POST', body: 'pay once' })
    expect(res.statusCode).toBe(504)
    expect(await res.body.json()).toMatchObject({ statusCode: 504 })
    expect(a.requests.map((r) => r.body.toString())).toEqual(['pay once'])
    expect(b.requests).toHaveLength(0)
  }, 5000)
})

describe('retry conditions', () => {
  it('a POST with an Idempotency-Key is retried on the next backend after a reset', async () => {
    const a = await startUpstream('a', (_req, res) => void res.destroy())
    const b = await startUpstream('b')
    ups = [a, b]
    gw = await startGateway(simpleConfig([a.url, b.url], { pool: { retry: { attempts: 1 } } }))
    const res = await request(`${gw.url}/x`, { method: 'POST', body: 'order', headers: { 'idempotency-key': 'k-1' } })
    expect(res.statusCode).toBe(200)
    expect(res.headers['x-upstream']).toBe('b')
    await res.body.dump()
    expect(b.requests[0]!.headers['idempotency-key']).toBe('k-1')
    expect(b.requests[0]!.body.toString()).toBe('order')
  })

  it('`5xx` retries any 5xx on the next backend', async () => {
    const a = await startUpstream('a', (_req, res) => void res.writeHead(500).end('broken'))
    const b = await startUpstream('b')
    ups = [a, b]
    gw = await startGateway(simpleConfig([a.url, b.url], { pool: { retry: { attempts: 1, on: ['5xx'] } } }))
    const res = await request(`${gw.url}/x`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['x-upstream']).toBe('b')
    await res.body.dump()
  })

  it('a 503 with Retry-After is passed on, not retried; honorRetryAfter: false retries it', async () => {
    const a = await startUpstream('a', (_req, res) => void res.writeHead(503, { 'retry-after': '7', 'x-upstream': 'a' }).end('later'))
    const b = await startUpstream('b')
    ups = [a, b]
    gw = await startGateway(simpleConfig([a.url, b.url], { pool: { retry: { attempts: 1 }, circuitBreaker: { consecutiveFailures: 100 } } }))
    const res = await request(`${gw.url}/x`)
    expect(res.statusCode).toBe(503)
    expect(res.headers['retry-after']).toBe('7')
    expect(await res.body.text()).toBe('later')
    expect(b.requests).toHaveLength(0)

    const ok = await gw.reload(simpleConfig([a.url, b.url], { pool: { retry: { attempts: 1, honorRetryAfter: false }, circuitBreaker: { consecutiveFailures: 100 } } }))
    expect(ok.ok).toBe(true)
    // Round-robin: one of two requests starts on a; both end on b.
    for (let i = 0; i < 2; i++) {
      const r = await request(`${gw.url}/x`)
      expect(r.statusCode).toBe(200)
      expect(r.headers['x-upstream']).toBe('b')
      await r.body.dump()
    }
    expect(a.requests.length).toBeGreaterThanOrEqual(2)
  })
})
