/**
 * Request smuggling over raw sockets: ambiguous framing (Content-Length with Transfer-Encoding,
 * duplicate or malformed Content-Length, obfuscated Transfer-Encoding, bad chunk sizes) is
 * refused with 400 by Node's strict parser (RFC 9112 §6.1, §6.3, §7.1), the connection is closed,
 * and the upstream sees nothing: neither the request nor a smuggled second one.
 */
import type { IncomingMessage } from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { StartedGateway } from '../helpers/gateway.js'
import type { TestUpstream } from '../helpers/upstream.js'
import { rawExchange, Resources, statusesOf, statusOf } from './harness.js'

const res = new Resources()
afterAll(() => res.closeAll())

let gw: StartedGateway
let up: TestUpstream
/** Every request that reached the upstream, even one whose body never completed. */
const arrivals: string[] = []

beforeAll(async () => {
  up = await res.upstream()
  up.server.on('request', (req: IncomingMessage) => arrivals.push(`${req.method} ${req.url}`))
  gw = await res.gateway({ pools: { main: { backends: [up.url] } }, routes: [{ name: 'all', match: { path: '/' }, pool: 'main' }] })
})
beforeEach(() => {
  arrivals.length = 0
  up.requests.length = 0
})

const port = (): number => Number(new URL(gw.url).port)
const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'

const attacks: Record<string, string> = {
  'Content-Length with Transfer-Encoding (CL.TE)': `POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
  'Transfer-Encoding with Content-Length (TE.CL)': `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n`,
  'duplicate Content-Length, different values': `POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nbody${smuggled}`,
  'Content-Length list with different values': `POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 40\r\n\r\nbody${smuggled}`,
  'non-numeric Content-Length': `POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4x\r\n\r\nbody`,
  'signed Content-Length': `POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\nbody`,
  'negative Content-Length': `POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nbody`,
  'space inside Content-Length': `POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4 4\r\n\r\nbody`,
  'obfuscated Transfer-Encoding: xchunked': `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`,
  'obfuscated Transfer-Encoding: chunked not last': `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
  'obfuscated Transfer-Encoding: space before colon': `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n`,
  'obfuscated Transfer-Encoding: header folding': `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`,
  'obfuscated Transfer-Encoding: vertical tab': `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n`,
  'bad chunk size: not hex': `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
  'bad chunk size: negative': `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n`,
  'bad chunk size: overflow': `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n`,
  'bare LF line endings in chunks': `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n`,
  'bare LF in headers': `GET /a HTTP/1.1\nHost: x\nX-Foo: bar\n\n`,
  'NUL in a header value': `GET /a HTTP/1.1\r\nHost: x\r\nX-Foo: a\x00b\r\n\r\n`,
  'missing Host on HTTP/1.1': `GET /a HTTP/1.1\r\nX-Foo: bar\r\n\r\n`,
}

describe('ambiguous framing is refused with 400 and forwards nothing', () => {
  for (const [name, payload] of Object.entries(attacks)) {
    it(name, async () => {
      const answer = await rawExchange(port(), payload)
      expect(statusOf(answer), answer).toBe(400)
      // Exactly one answer: the smuggled request never gets its own.
      expect(statusesOf(answer)).toEqual([400])
      expect(answer.toLowerCase()).toContain('connection: close')
      expect(arrivals).toEqual([])
      expect(up.requests).toEqual([])
    })
  }
})

describe('framing errors found while a body streams', () => {
  it('chunk data longer than its size: no complete request and no smuggled one reaches the upstream', async () => {
    // The body is streamed, so the upstream may already hold the request head when the parser
    // meets the bad chunk; the gateway then aborts that upstream request (RFC 9112 §9.6 "incomplete").
    const answer = await rawExchange(port(), `POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n${smuggled}`)
    expect(statusesOf(answer)).toEqual([400])
    await new Promise((r) => setTimeout(r, 100))
    expect(up.requests).toEqual([])
    expect(arrivals.filter((a) => a.includes('smuggled'))).toEqual([])
  })

  it('Transfer-Encoding on HTTP/1.0 is faulty framing: 400, and nothing later on that connection is served (RFC 9112 §6.1)', async () => {
    const answer = await rawExchange(port(), `POST /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.0\r\nHost: x\r\n\r\n`)
    expect(statusesOf(answer)[0]).toBe(400)
    expect(statusesOf(answer).every((s) => s === 400)).toBe(true)
    expect(arrivals).toEqual([])
  })
})

describe('well-formed framing still works (the tests above are not refusing everything)', () => {
  it('a chunked body and a Content-Length body are forwarded intact', async () => {
    const chunked = await rawExchange(port(), `POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`)
    expect(statusOf(chunked)).toBe(200)
    const fixed = await rawExchange(port(), `POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`)
    expect(statusOf(fixed)).toBe(200)
    expect(up.requests.map((r) => [r.url, r.body.toString()])).toEqual([
      ['/c', 'hello world'],
      ['/f', 'hello'],
    ])
    // The upstream gets framing the gateway chose, never the client's Transfer-Encoding line.
    expect(up.requests[0]!.headers['transfer-encoding'] === undefined || up.requests[0]!.headers['content-length'] === undefined).toBe(true)
  })
})
