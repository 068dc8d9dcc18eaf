/**
 * Request limits over raw sockets and real requests: header block (431), URL (414), body (413,
 * declared or chunked across the limit), slowloris header timeout, connection cap. Each refused
 * request is answered (or the connection closed) and the upstream completes nothing. Also the
 * request timeout: a body that trickles past requestTimeout gets 408.
 */
import net from 'node:net'
import type { IncomingMessage } from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { StartedGateway } from '../helpers/gateway.js'
import { waitFor, type TestUpstream } from '../helpers/upstream.js'
import { rawExchange, Resources, send, statusOf } from './harness.js'
import { dribble } from '../helpers/raw-http.js'

const res = new Resources()
afterAll(() => res.closeAll())

let gw: StartedGateway
let up: TestUpstream
const arrivals: string[] = []

beforeAll(async () => {
  up = await res.upstream()
  up.server.on('request', (req: IncomingMessage) => arrivals.push(`${req.method} ${req.url}`))
  gw = await res.gateway({
    server: { maxHeaderSize: '4kb', maxUrlLength: 1024, bodyLimit: '1kb', headersTimeout: '600ms', requestTimeout: '5s', maxConnections: 20 },
    pools: { main: { backends: [up.url] } },
    routes: [{ name: 'all', match: { path: '/' }, pool: 'main' }],
  })
})
beforeEach(() => {
  arrivals.length = 0
  up.requests.length = 0
})

const port = (): number => Number(new URL(gw.url).port)

describe('size limits', () => {
  it('431 for a header block over maxHeaderSize', async () => {
    const answer = await rawExchange(port(), `GET /h HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`)
    expect(statusOf(answer)).toBe(431)
    expect(answer).toContain('"statusCode":431')
    // Many small headers count too.
    const many = Array.from({ length: 200 }, (_, i) => `X-H${i}: ${'b'.repeat(30)}\r\n`).join('')
    expect(statusOf(await rawExchange(port(), `GET /h HTTP/1.1\r\nHost: x\r\n${many}\r\n`))).toBe(431)
    expect(arrivals).toEqual([])
  })

  it('414 for a request target over maxUrlLength, in the path or the query', async () => {
    const long = await send(`${gw.url}/${'p'.repeat(1100)}`)
    expect(long.status).toBe(414)
    expect(long.body).toMatchObject({ statusCode: 414, error: 'URI Too Long' })
    expect((await send(`${gw.url}/q?${'k=v&'.repeat(300)}`)).status).toBe(414)
    expect(arrivals).toEqual([])
  })

  it('413 for a declared Content-Length over bodyLimit, before reading the body', async () => {
    const r = await send(`${gw.url}/b`, { method: 'POST', body: 'x'.repeat(2048), headers: { 'content-type': 'text/plain' } })
    expect(r.status).toBe(413)
    expect(r.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' })
    expect(arrivals).toEqual([])
  })

  it('413 for a chunked body that crosses bodyLimit, and no complete request upstream', async () => {
    const chunk = `200\r\n${'y'.repeat(0x200)}\r\n`
    const answer = await rawExchange(port(), [`POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`, chunk, chunk, chunk, chunk, '0\r\n\r\n'])
    expect(statusOf(answer)).toBe(413)
    await new Promise((r) => setTimeout(r, 100))
    // The body streams, so the upstream may see the request head; it never gets a whole request.
    expect(up.requests).toEqual([])
    // Under the limit the same framing is forwarded whole.
    const ok = await rawExchange(port(), `POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk}0\r\n\r\n`)
    expect(statusOf(ok)).toBe(200)
    expect(up.requests.map((q) => [q.url, q.body.length])).toEqual([['/small', 0x200]])
  })
})

describe('slow and many clients', () => {
  it('closes a connection whose header block is not finished within headersTimeout (slowloris)', async () => {
    // Keep dribbling header bytes, as slowloris does; each byte resets no timer.
    const client = await dribble(port(), 'GET /slow HTTP/1.1\r\nHost: x\r\n', 'X-a: b\r\n')
    res.add(() => client.stop(), undefined)
    const started = Date.now()
    await waitFor(() => client.closed(), 5000, 20, 'server to drop the slow connection')
    client.stop()
    expect(Date.now() - started).toBeLessThan(3000)
    expect(client.answer() === '' || statusOf(client.answer()) === 408).toBe(true)
    expect(arrivals).toEqual([])
  })

  it('answers 408 to a request whose body does not arrive within requestTimeout', async () => {
    const slowUp = await res.upstream('slow-body')
    const g = await res.gateway({
      server: { headersTimeout: '500ms', requestTimeout: '800ms' },
      pools: { main: { backends: [slowUp.url] } },
      routes: [{ name: 'all', match: { path: '/' }, pool: 'main' }],
    })
    // Headers in time, then a body that trickles and never completes.
    const client = await dribble(Number(new URL(g.url).port), 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n', 'z')
    res.add(() => client.stop(), undefined)
    const started = Date.now()
    await waitFor(() => client.closed(), 5000, 20, 'server to give up on the slow body')
    client.stop()
    expect(Date.now() - started).toBeLessThan(3500)
    expect(statusOf(client.answer())).toBe(408)
    expect(client.answer()).toContain('"statusCode":408')
    expect(slowUp.requests).toEqual([])
  })

  it('refuses connections beyond maxConnections and keeps serving the ones it holds', async () => {
    const held: net.Socket[] = []
    for (let i = 0; i < 20; i++) {
      const s = net.connect(port(), '127.0.0.1')
      s.on('error', () => {})
      held.push(s)
      res.add(() => s.destroy(), undefined)
      await new Promise<void>((r) => s.once('connect', () => r()))
    }
    // Let the server count them all before the next one arrives.
    await new Promise((r) => setTimeout(r, 50))
    const extra = await rawExchange(port(), 'GET /over HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 300).catch(() => '')
    expect(statusOf(extra)).toBe(0)
    expect(arrivals).toEqual([])
    // A held connection is still served.
    const answered = new Promise<string>((resolve) => {
      let data = ''
      held[0]!.on('data', (d) => {
        data += d.toString('latin1')
        if (data.includes('\r\n\r\n')) resolve(data)
      })
    })
    held[0]!.write('GET /held HTTP/1.1\r\nHost: x\r\n\r\n')
    expect(statusOf(await answered)).toBe(200)
    for (const s of held) s.destroy()
    // Once they are gone, new connections are accepted again.
    await waitFor(async () => statusOf(await rawExchange(port(), 'GET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')) === 200, 3000, 50, 'a free slot')
  })
})
