/**
 * WebSocket over HTTP/2 (RFC 8441 extended CONNECT), on the TLS listener and on the h2c plain
 * listener: the gateway announces SETTINGS_ENABLE_CONNECT_PROTOCOL, routes the CONNECT like an
 * upgrade (auth and route rules apply), opens an HTTP/1.1 upgrade to a real `ws` backend and
 * relays frames both ways; a client that goes away closes the backend side.
 */
import { afterEach, describe, expect, it } from 'vitest'
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { waitFor } from '../helpers/upstream.js'
import { createPki } from '../tls/helpers/pki.js'

const cleanup: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

async function wsBackend(): Promise<{ url: string; seen: http.IncomingHttpHeaders[]; open: () => number }> {
  const server = http.createServer()
  const wss = new WebSocketServer({ server })
  const seen: http.IncomingHttpHeaders[] = []
  wss.on('connection', (ws, req) => {
    seen.push(req.headers)
    ws.on('message', (m) => ws.send(`echo:${m.toString()}`))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  cleanup.push(() => new Promise<void>((r) => {
    for (const c of wss.clients) c.terminate()
    wss.close()
    server.close(() => r())
  }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, open: () => wss.clients.size }
}

/** A masked client text frame (RFC 6455 §5.2), payload < 126 bytes. */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text)
  const mask = Buffer.from([1, 2, 3, 4])
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked])
}

async function extendedConnect(gatewayUrl: string, path: string, options: http2.SecureClientSessionOptions = {}): Promise<{ status: number; headers: http2.IncomingHttpHeaders; stream: http2.ClientHttp2Stream; session: http2.ClientHttp2Session }> {
  const session = http2.connect(gatewayUrl, options)
  cleanup.push(() => void session.destroy())
  // RFC 8441 §3: the extended CONNECT only after the server said it may be used.
  const settings = await new Promise<http2.Settings>((resolve) => session.once('remoteSettings', resolve))
  expect(settings.enableConnectProtocol).toBe(true)
  const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': path, ':scheme': new URL(gatewayUrl).protocol.slice(0, -1), ':authority': new URL(gatewayUrl).host, 'sec-websocket-version': '13' })
  const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
    stream.once('response', resolve)
    stream.once('error', reject)
  })
  return { status: Number(headers[':status']), headers, stream, session }
}

describe('WebSocket over HTTP/2 (RFC 8441)', () => {
  it('on the h2c listener: 200, then frames both ways through an HTTP/1.1 upgrade to the backend', async () => {
    const up = await wsBackend()
    const gw: StartedGateway = await startGateway({
      server: { h2c: true },
      pools: { ws: { backends: [up.url] } },
      routes: [
        { name: 'closed', match: { path: '/closed' }, pool: 'ws' },
        { name: 'ws', match: { path: '/ws' }, pool: 'ws', websocket: true },
      ],
    })
    cleanup.push(() => gw.close())
    const { status, headers, stream, session } = await extendedConnect(gw.url, '/ws/chat')
    expect(status).toBe(200)
    expect(headers['x-request-id']).toBeTypeOf('string')
    expect(headers['sec-websocket-accept']).toBeUndefined()
    const reply = new Promise<Buffer>((resolve) => stream.once('data', resolve))
    stream.write(textFrame('hello'))
    const frame = await reply
    // An unmasked server text frame: 0x81, length, payload.
    expect(frame[0]).toBe(0x81)
    expect(frame.subarray(2, 2 + frame[1]!).toString()).toBe('echo:hello')
    // The backend got an ordinary HTTP/1.1 upgrade with a key the gateway made.
    expect(up.seen[0]!['sec-websocket-key']).toMatch(/^[A-Za-z0-9+/]{22}==$/)

    // A route without websocket: true refuses, as for HTTP/1.1 upgrades.
    const refused = await extendedConnect(gw.url, '/closed')
    expect(refused.status).toBe(400)

    // A client that vanishes (no GOAWAY, just EOF) frees its connection and the backend's.
    const gone = await extendedConnect(gw.url, '/ws/gone')
    gone.session.destroy()
    session.destroy()
    refused.session.destroy()
    const connections = () => new Promise<number>((resolve) => gw.listener.server.getConnections((_e, n) => resolve(n)))
    await waitFor(async () => (await connections()) === 0 && up.open() === 0, 3000, 20, 'connections closed')
  })

  it('on the TLS listener (HTTP/2 by ALPN), and the client going away closes the tunnel', async () => {
    const pki = await createPki()
    cleanup.push(() => pki.cleanup())
    const leaf = await pki.issue('gw', { subject: '/CN=gw.example.com', dns: ['gw.example.com'], ips: ['127.0.0.1'] })
    const up = await wsBackend()
    const gw = await startGateway({
      server: { tls: { port: 0, certificates: [{ cert: leaf.cert, key: leaf.key }] } },
      pools: { ws: { backends: [up.url] } },
      routes: [{ name: 'ws', match: { path: '/' }, pool: 'ws', websocket: true }],
    })
    cleanup.push(() => gw.close())
    const { status, stream, session } = await extendedConnect(gw.httpsUrl!, '/tls', { ca: pki.ca.pem, servername: 'gw.example.com' })
    expect(status).toBe(200)
    const reply = new Promise<Buffer>((resolve) => stream.once('data', resolve))
    stream.write(textFrame('over tls'))
    const frame = await reply
    expect(frame.subarray(2, 2 + frame[1]!).toString()).toBe('echo:over tls')
    session.destroy()
    // The backend's side of the tunnel closes too.
    await waitFor(() => up.open() === 0, 3000, 20, 'backend connection closed')
  })

  it('a plain CONNECT (no :protocol) is still 405', async () => {
    const up = await wsBackend()
    const gw = await startGateway({ server: { h2c: true }, pools: { ws: { backends: [up.url] } }, routes: [{ name: 'ws', match: { path: '/' }, pool: 'ws', websocket: true }] })
    cleanup.push(() => gw.close())
    const session = http2.connect(gw.url)
    cleanup.push(() => void session.destroy())
    const stream = session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' })
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve))
    expect(headers[':status']).toBe(405)
  })
})
