import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import http2 from 'node:http2'
import tls from 'node:tls'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { createPki, type TestPki, type IssuedFiles } from './helpers/pki.js'
import { h2Request, handshake, httpsRequest } from './helpers/clients.js'

let pki: TestPki
let leaf: IssuedFiles
let up: TestUpstream
const versions: string[] = []
let gw: StartedGateway | undefined
let plainGw: StartedGateway | undefined

function tlsConfig(extra: Record<string, unknown> = {}, server: Record<string, unknown> = {}) {
  return simpleConfig([up.url], { top: { server: { ...server, tls: { port: 0, certificates: [{ cert: leaf.cert, key: leaf.key }], ...extra } } } })
}

beforeAll(async () => {
  pki = await createPki()
  leaf = await pki.issue('gw', { subject: '/CN=gw.example.com', dns: ['gw.example.com'], ips: ['127.0.0.1'] })
  up = await startUpstream('a', (req, res, body) => {
    versions.push(req.httpVersion)
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'a', connection: 'keep-alive', 'keep-alive': 'timeout=5' })
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: body.toString('utf8') }))
  })
  gw = await startGateway(tlsConfig({}, { bodyLimit: '1kb', maxHeaderSize: '16kb' }))
})

afterAll(async () => {
  await gw?.close()
  await plainGw?.close()
  await up?.close()
  await pki?.cleanup()
})

const port = () => Number(new URL(gw!.httpsUrl!).port)

/** Raw HTTP/1.1 bytes over TLS (ALPN http/1.1); the whole answer until the server closes. */
function rawTls(p: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: p, ca: pki.ca.pem, servername: 'gw.example.com', ALPNProtocols: ['http/1.1'] }, () => s.write(text))
    let out = ''
    s.on('data', (d: Buffer) => (out += d.toString('latin1')))
    s.on('end', () => resolve(out))
    s.on('close', () => resolve(out))
    s.on('error', reject)
  })
}

describe('HTTP/2 over ALPN', () => {
  it('negotiates h2 and proxies the request to an HTTP/1.1 upstream with clean headers', async () => {
    versions.length = 0
    const res = await h2Request(port(), '/api/items?page=2', {
      ca: pki.ca.pem,
      servername: 'gw.example.com',
      authority: 'gw.example.com',
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'content-length': '13', 'x-custom': 'yes' },
      body: 'hello over h2',
    })
    expect(res.alpn).toBe('h2')
    expect(res.status).toBe(200)
    // Hop-by-hop response headers must not reach an HTTP/2 client (RFC 9113 §8.2.2).
    expect(res.headers.connection).toBeUndefined()
    expect(res.headers['keep-alive']).toBeUndefined()
    expect(res.headers['x-upstream']).toBe('a')
    expect(versions).toEqual(['1.1'])
    const seen = JSON.parse(res.body) as { method: string; url: string; headers: Record<string, string>; body: string }
    expect(seen.method).toBe('POST')
    expect(seen.url).toBe('/api/items?page=2')
    expect(seen.body).toBe('hello over h2')
    expect(Object.keys(seen.headers).filter((k) => k.startsWith(':'))).toEqual([])
    expect(seen.headers.host).toBe(new URL(up.url).host)
    expect(seen.headers['x-forwarded-host']).toBe('gw.example.com')
    expect(seen.headers['x-forwarded-proto']).toBe('https')
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1')
    expect(seen.headers['x-custom']).toBe('yes')
  })

  it('forwards an h2 request body sent without Content-Length (DATA frames only)', async () => {
    const res = await h2Request(port(), '/upload', {
      ca: pki.ca.pem,
      servername: 'gw.example.com',
      authority: 'gw.example.com',
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'streamed without a length',
    })
    expect(res.status).toBe(200)
    const seen = JSON.parse(res.body) as { body: string }
    expect(seen.body).toBe('streamed without a length')
  })

  it('still serves HTTP/1.1 over TLS on the same port', async () => {
    versions.length = 0
    const res = await httpsRequest(port(), '/plain', { ca: pki.ca.pem, servername: 'gw.example.com' })
    expect(res.status).toBe(200)
    expect(res.httpVersion).toBe('1.1')
    expect(versions).toEqual(['1.1'])
    const seen = JSON.parse(res.body) as { headers: Record<string, string> }
    expect(seen.headers['x-forwarded-proto']).toBe('https')
  })

  it('advertises bounded stream and header-list limits and serves concurrent streams', async () => {
    const session = http2.connect(gw!.httpsUrl!, { ca: pki.ca.pem })
    try {
      await new Promise<void>((resolve, reject) => {
        session.once('remoteSettings', () => resolve())
        session.once('error', reject)
      })
      expect(session.remoteSettings.maxConcurrentStreams).toBe(128)
      expect(session.remoteSettings.maxHeaderListSize).toBe(16 * 1024)
      const statuses = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          new Promise<number>((resolve, reject) => {
            const s = session.request({ ':path': `/s/${i}` })
            let status = 0
            s.on('response', (h) => (status = Number(h[':status'])))
            s.on('error', reject)
            s.resume()
            s.on('end', () => resolve(status))
          }),
        ),
      )
      expect(statuses).toEqual(Array(10).fill(200))
    } finally {
      session.close()
    }
  })

  it('answers gateway errors over h2 as JSON (declared body over bodyLimit → 413)', async () => {
    const big = await h2Request(port(), '/upload', { ca: pki.ca.pem, method: 'POST', headers: { 'content-length': '5000' }, body: 'x'.repeat(5000) })
    expect(big.status).toBe(413)
    expect(JSON.parse(big.body)).toMatchObject({ statusCode: 413, error: 'Payload Too Large' })
  })

  it('gives HTTP/2 requests a Host from :authority, and refuses a Host that contradicts it', async () => {
    const res = await h2Request(port(), '/h', { ca: pki.ca.pem, authority: 'Gw.Example.com' })
    expect(res.status).toBe(200)
    expect((JSON.parse(res.body) as { headers: Record<string, string> }).headers['x-forwarded-host']).toBe('Gw.Example.com')
    const same = await h2Request(port(), '/h', { ca: pki.ca.pem, authority: 'gw.example.com', headers: { host: 'GW.example.com' } })
    expect(same.status).toBe(200)
    const before = versions.length
    const conflict = await h2Request(port(), '/h', { ca: pki.ca.pem, authority: 'gw.example.com', headers: { host: 'admin.internal' } })
    expect(conflict.status).toBe(400)
    expect(JSON.parse(conflict.body)).toEqual({ statusCode: 400, error: 'Bad Request', message: 'Host and :authority disagree', code: 'SWITCHYARD_BAD_REQUEST' })
    expect(versions.length).toBe(before)
  })

  it('answers 431 to a header block larger than maxHeaderSize and keeps serving', async () => {
    const before = versions.length
    const res = await h2Request(port(), '/big-headers', { ca: pki.ca.pem, headers: { 'x-big': 'x'.repeat(20 * 1024) } })
    expect(res.status).toBe(431)
    expect(versions.length).toBe(before)
    expect((await h2Request(port(), '/after', { ca: pki.ca.pem })).status).toBe(200)
  })

  it('keeps the edge parser limits on HTTP/1.1 connections beside h2 (malformed → 400, oversized headers → 431)', async () => {
    const malformed = await rawTls(port(), 'GET / HTTP/1.1\r\nHost: gw.example.com\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
    expect(malformed).toMatch(/^HTTP\/1\.1 400 /)
    expect(malformed).toContain('"statusCode":400')
    const oversized = await rawTls(port(), `GET / HTTP/1.1\r\nHost: gw.example.com\r\nX-Big: ${'x'.repeat(20 * 1024)}\r\n\r\n`)
    expect(oversized).toMatch(/^HTTP\/1\.1 431 /)
  })

  it('offers only HTTP/1.1 when http2 is off', async () => {
    plainGw = await startGateway(tlsConfig({ http2: false }))
    const p = Number(new URL(plainGw.httpsUrl!).port)
    const h = await handshake(p, { ALPNProtocols: ['h2', 'http/1.1'] })
    expect(h.alpn).toBe('http/1.1')
    const res = await httpsRequest(p, '/x', { ca: pki.ca.pem })
    expect(res.status).toBe(200)
    expect((JSON.parse(res.body) as { headers: Record<string, string> }).headers['x-forwarded-proto']).toBe('https')
  })
})
