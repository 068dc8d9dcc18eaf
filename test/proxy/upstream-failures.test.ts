import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { freePort, startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
  up = undefined
})

async function json(res: Awaited<ReturnType<typeof request>>): Promise<Record<string, unknown>> {
  expect(res.headers['content-type']).toContain('application/json')
  return (await res.body.json()) as Record<string, unknown>
}

describe('upstream failures map to 502/503/504 JSON without internals', () => {
  it('connection refused → 502', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`
    gw = await startGateway(simpleConfig([dead], { pool: { retry: { attempts: 0 }, circuitBreaker: false } }))
    const res = await request(`${gw.url}/x`)
    expect(res.statusCode).toBe(502)
    const body = await json(res)
    expect(body).toEqual({ statusCode: 502, error: 'Bad Gateway', message: 'upstream connection failed', code: 'SWITCHYARD_UPSTREAM_CONNECT' })
    expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|stack/)
  })

  it('response timeout → 504, and the gateway does not hang', async () => {
    up = await startUpstream('slow', (_req, res) => {
      setTimeout(() => res.end('late'), 2_000).unref()
    })
    gw = await startGateway(simpleConfig([up.url], { pool: { timeouts: { response: '150ms' }, retry: { attempts: 0 } } }))
    const t0 = Date.now()
    const res = await request(`${gw.url}/x`)
    expect(res.statusCode).toBe(504)
    expect(await json(res)).toMatchObject({ statusCode: 504, error: 'Gateway Timeout' })
    expect(Date.now() - t0).toBeLessThan(1_500)
  })

  it('an upstream that resets mid-exchange → 502, and the gateway keeps serving', async () => {
    let calls = 0
    up = await startUpstream('reset', (req, res) => {
      calls++
      if (calls === 1) {
        req.socket.destroy()
        return
      }
      res.end('fine')
    })
    gw = await startGateway(simpleConfig([up.url], { pool: { retry: { attempts: 0 }, circuitBreaker: false } }))
    const bad = await request(`${gw.url}/x`)
    expect(bad.statusCode).toBe(502)
    expect(await json(bad)).toMatchObject({ statusCode: 502 })
    const good = await request(`${gw.url}/x`)
    expect(good.statusCode).toBe(200)
    expect(await good.body.text()).toBe('fine')
  })

  it('upstream 500 bodies pass through untouched (they are the upstream answer, not a gateway error)', async () => {
    up = await startUpstream('err', (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' })
      res.end('boom')
    })
    gw = await startGateway(simpleConfig([up.url], { pool: { retry: { attempts: 0 } } }))
    const res = await request(`${gw.url}/x`)
    expect(res.statusCode).toBe(500)
    expect(await res.body.text()).toBe('boom')
  })

  it('an upstream speaking garbage instead of HTTP → 502, never a crash', async () => {
    const garbage = net.createServer((sock) => {
      sock.on('data', () => sock.end('this is not HTTP at all\r\n\r\n'))
    })
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r))
    try {
      const url = `http://127.0.0.1:${(garbage.address() as AddressInfo).port}`
      gw = await startGateway(simpleConfig([url], { pool: { retry: { attempts: 0 }, circuitBreaker: false } }))
      const res = await request(`${gw.url}/x`)
      expect(res.statusCode).toBe(502)
      const body = await json(res)
      expect(body).toMatchObject({ statusCode: 502, error: 'Bad Gateway' })
      expect(JSON.stringify(body)).not.toMatch(/HPE_|not HTTP/)
    } finally {
      await new Promise<void>((r) => garbage.close(() => r()))
    }
  })

  it('an upstream dying mid-body cuts that response short, and the gateway keeps serving', async () => {
    let calls = 0
    up = await startUpstream('dies', (req, res) => {
      calls++
      if (calls === 1) {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' })
        res.write('partial')
        setTimeout(() => req.socket.destroy(), 20)
        return
      }
      res.end('whole')
    })
    gw = await startGateway(simpleConfig([up.url], { pool: { retry: { attempts: 0 }, circuitBreaker: false } }))
    const cut = await request(`${gw.url}/x`)
    expect(cut.statusCode).toBe(200)
    await expect(cut.body.text()).rejects.toThrow()
    const next = await request(`${gw.url}/x`)
    expect(next.statusCode).toBe(200)
    expect(await next.body.text()).toBe('whole')
  })

  /** A raw upstream that answers every request with `answer`, then closes. */
  async function rawUpstream(answer: string): Promise<{ url: string; close(): Promise<void> }> {
    const server = net.createServer((sock) => {
      sock.on('error', () => {})
      sock.on('data', () => sock.end(answer))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => server.close(() => r())) }
  }

  async function upstreamErrors(kind: string): Promise<number> {
    const text = await (await request(`${gw!.adminUrl}/metrics`)).body.text()
    const m = new RegExp(`^switchyard_upstream_errors_total\\{pool="main",kind="${kind}"\\} (\\d+)`, 'm').exec(text)
    return m ? Number(m[1]) : 0
  }

  it('an upstream status outside 100-599 is a bad response: 502, counted, and the breaker told', async () => {
    const bad = await rawUpstream('HTTP/1.1 999 Weird\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok')
    try {
      gw = await startGateway(simpleConfig([bad.url], { pool: { retry: { attempts: 0 }, circuitBreaker: { consecutiveFailures: 1, openDuration: '30s' } } }))
      const res = await request(`${gw.url}/x`)
      expect(res.statusCode).toBe(502)
      expect(await json(res)).toMatchObject({ statusCode: 502, error: 'Bad Gateway' })
      expect(gw.pools.get('main')!.backends[0]!.breaker.state).toBe('open')
      expect(await upstreamErrors('reset')).toBe(1)
    } finally {
      await bad.close()
    }
  })

  it('a broken chunk from the upstream is an upstream failure: counted, and the breaker told', async () => {
    const bad = await rawUpstream('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nZZZ\r\n')
    try {
      gw = await startGateway(simpleConfig([bad.url], { pool: { retry: { attempts: 0 }, circuitBreaker: { consecutiveFailures: 1, openDuration: '30s' } } }))
      const res = await request(`${gw.url}/x`).catch((err: Error) => err)
      if (!(res instanceof Error)) {
        // Either the head arrived first (the body is then cut short) or both came together (502).
        if (res.statusCode === 200) await expect(res.body.text()).rejects.toThrow()
        else expect(res.statusCode).toBe(502)
      }
      await waitFor(() => gw!.pools.get('main')!.backends[0]!.breaker.state === 'open', 2_000, 10, 'the breaker to hear of the failure')
      expect(await upstreamErrors('reset')).toBe(1)
    } finally {
      await bad.close()
    }
  })
})
