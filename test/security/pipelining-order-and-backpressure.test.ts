/**
 * Pipelined requests on one connection reach upstreams in the order sent (a GET behind a slow
 * POST used to overtake it), and a client that pipelines many requests without reading the
 * answers stops being read: the gateway holds a bounded number of them instead of issuing
 * every one upstream.
 */
import { afterEach, describe, expect, it } from 'vitest'
import net from 'node:net'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { statusesOf } from '../helpers/raw-http.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
  gw = undefined
  up = undefined
})

describe('pipelining', () => {
  it('a GET pipelined behind a slow POST reaches the upstream after it, and answers come in order', async () => {
    const arrivals: string[] = []
    up = await startUpstream('a', (req, res) => {
      const delay = req.method === 'POST' ? 150 : 0
      setTimeout(() => res.end(`${req.method} ${req.url}`), delay)
    })
    up.server.on('request', (req) => arrivals.push(`${req.method} ${req.url}`))
    gw = await startGateway(simpleConfig([up.url]))
    const s = net.connect(Number(new URL(gw.url).port), '127.0.0.1')
    let out = ''
    s.on('data', (d) => (out += d.toString('latin1')))
    s.on('error', () => {})
    await new Promise<void>((r) => s.once('connect', () => r()))
    s.write('POST /first HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi' + 'GET /second HTTP/1.1\r\nHost: a\r\n\r\n' + 'GET /third HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
    await waitFor(() => statusesOf(out).length === 3, 5000, 10, 'three answers')
    s.destroy()
    expect(arrivals).toEqual(['POST /first', 'GET /second', 'GET /third'])
    expect(out.indexOf('POST /first')).toBeLessThan(out.indexOf('GET /second'))
    expect(out.indexOf('GET /second')).toBeLessThan(out.indexOf('GET /third'))
  })

  it('a client that pipelines hundreds of requests and never reads is not read further', async () => {
    const big = Buffer.alloc(64 * 1024, 'x')
    up = await startUpstream('a', (_req, res) => {
      res.end(big)
    })
    gw = await startGateway(simpleConfig([up.url]))
    const s = net.connect(Number(new URL(gw.url).port), '127.0.0.1')
    s.on('error', () => {})
    await new Promise<void>((r) => s.once('connect', () => r()))
    s.pause()
    const total = 400
    s.write(Array.from({ length: total }, (_, i) => `GET /r${i} HTTP/1.1\r\nHost: a\r\n\r\n`).join(''))
    // Let the gateway do whatever it will with an unread connection.
    let seen = -1
    await waitFor(
      async () => {
        const now = up!.requests.length
        const settled = now === seen && now > 0
        seen = now
        await new Promise((r) => setTimeout(r, 150))
        return settled
      },
      5000,
      1,
      'upstream arrivals to settle',
    )
    expect(up.requests.length).toBeLessThan(total / 2)
    // Reading again lets the rest through, in order.
    let received = 0
    let text = ''
    s.on('data', (d: Buffer) => {
      received += d.length
      if (text.length < 4096) text += d.toString('latin1', 0, Math.min(d.length, 4096))
    })
    s.resume()
    await waitFor(() => up!.requests.length === total, 10_000, 20, 'every request upstream')
    s.destroy()
    expect(up.requests.map((r) => r.url)).toEqual(Array.from({ length: total }, (_, i) => `/r${i}`))
    expect(received).toBeGreaterThan(0)
  }, 20_000)
})
