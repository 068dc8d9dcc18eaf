/**
 * A GET over HTTP/2 with DATA frames and no content-length (a "fat GET") used to be forwarded
 * with its body and the answer cached, so a clean GET then got the poisoned entry. A GET or
 * HEAD with a body is refused on HTTP/2 as on HTTP/1.1: nothing forwarded, nothing stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { createPki, type TestPki } from '../tls/helpers/pki.js'
import http2 from 'node:http2'
import { h2Request } from '../tls/helpers/clients.js'

let pki: TestPki
let up: TestUpstream
let gw: StartedGateway

beforeAll(async () => {
  pki = await createPki()
  const leaf = await pki.issue('gw', { subject: '/CN=gw.example.com', dns: ['gw.example.com'], ips: ['127.0.0.1'] })
  up = await startUpstream('a', (req, res, body) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=60' })
    res.end(`body=[${body.toString('utf8')}]`)
  })
  gw = await startGateway({
    server: { tls: { port: 0, certificates: [{ cert: leaf.cert, key: leaf.key }] } },
    pools: { p: { backends: [up.url] } },
    routes: [{ name: 'cached', match: { path: '/' }, pool: 'p', cache: { ttl: '60s' } }],
  })
})

afterAll(async () => {
  await gw?.close()
  await up?.close()
  await pki?.cleanup()
})

/** A GET/HEAD stream left open after its headers (Node would set END_STREAM), then DATA frames. */
function fatRequest(method: 'GET' | 'HEAD', path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://gw.example.com:${port()}`, { host: '127.0.0.1', port: port(), ca: pki.ca.pem, servername: 'gw.example.com' } as http2.SecureClientSessionOptions)
    session.on('error', reject)
    const stream = session.request({ ':method': method, ':path': path }, { endStream: false })
    let status = 0
    stream.on('response', (h) => (status = Number(h[':status'])))
    stream.on('data', () => {})
    stream.on('close', () => {
      session.close()
      resolve(status)
    })
    stream.on('error', () => {})
    stream.end(body)
  })
}

const opts = () => ({ ca: pki.ca.pem, servername: 'gw.example.com', authority: 'gw.example.com' })
const port = () => Number(new URL(gw.httpsUrl!).port)

describe('HTTP/2 fat GET', () => {
  it('a GET with DATA frames is refused, never forwarded, and a clean GET is not poisoned', async () => {
    expect(await fatRequest('GET', '/page', 'poison')).toBe(400)
    expect(up.requests).toHaveLength(0)
    const clean = await h2Request(port(), '/page', opts())
    expect(clean.httpVersion).toBe('2.0')
    expect(clean.status).toBe(200)
    expect(clean.body).toBe('body=[]')
    expect(up.requests).toHaveLength(1)
  })

  it('a HEAD with DATA frames is refused too', async () => {
    const before = up.requests.length
    expect(await fatRequest('HEAD', '/other', 'poison')).toBe(400)
    expect(up.requests).toHaveLength(before)
  })
})
