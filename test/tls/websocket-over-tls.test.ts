import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, WebSocket } from 'ws'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { createPki, type IssuedFiles, type TestPki } from './helpers/pki.js'

let pki: TestPki
let leaf: IssuedFiles
let server: http.Server | undefined
let wss: WebSocketServer | undefined
let gw: StartedGateway | undefined
const seen: http.IncomingHttpHeaders[] = []

beforeAll(async () => {
  pki = await createPki()
  leaf = await pki.issue('gw', { subject: '/CN=gw.test', dns: ['gw.test'], ips: ['127.0.0.1'] })
  server = http.createServer((_req, res) => res.end('plain'))
  wss = new WebSocketServer({ server })
  wss.on('connection', (ws, req) => {
    seen.push(req.headers)
    ws.on('message', (data) => ws.send(`echo:${data.toString()}`))
  })
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
})
afterEach(async () => {
  await gw?.close()
  gw = undefined
})
afterAll(async () => {
  wss?.close()
  server?.closeAllConnections()
  await new Promise<void>((r) => server!.close(() => r()))
  await pki?.cleanup()
})

function config(http2: boolean) {
  return {
    server: { tls: { port: 0, http2, certificates: [{ cert: leaf.cert, key: leaf.key }] } },
    pools: { ws: { backends: [`http://127.0.0.1:${(server!.address() as AddressInfo).port}`] } },
    routes: [{ name: 'live', match: { path: '/live' }, pool: 'ws', websocket: true }],
  }
}

async function echo(url: string): Promise<string> {
  const ws = await new Promise<WebSocket>((resolve, reject) => {
    const s = new WebSocket(url, { ca: pki.ca.pem, headers: { 'x-client-cert-subject': 'CN=forged' } })
    s.once('open', () => resolve(s))
    s.once('error', reject)
    s.once('unexpected-response', (_req, res) => reject(new Error(`unexpected ${res.statusCode}`)))
  })
  const reply = await new Promise<string>((resolve) => {
    ws.once('message', (d) => resolve(d.toString()))
    ws.send('hello')
  })
  ws.close()
  return reply
}

describe('WebSocket over TLS (wss://)', () => {
  it.each([
    ['with http2 on (HTTP/1.1 upgrade beside h2)', true],
    ['with http2 off', false],
  ])('tunnels an upgrade %s, with X-Forwarded-Proto https and no forged certificate header', async (_name, http2) => {
    gw = await startGateway(config(http2))
    seen.length = 0
    expect(await echo(`${gw.httpsUrl!.replace('https', 'wss')}/live`)).toBe('echo:hello')
    expect(seen[0]!['x-forwarded-proto']).toBe('https')
    expect(seen[0]!['x-client-cert-subject']).toBeUndefined()
  })

  it('strips a forged certificate header from upgrades on the plain listener too', async () => {
    gw = await startGateway(config(true))
    seen.length = 0
    expect(await echo(`${gw.url.replace('http', 'ws')}/live`)).toBe('echo:hello')
    expect(seen[0]!['x-forwarded-proto']).toBe('http')
    expect(seen[0]!['x-client-cert-subject']).toBeUndefined()
  })
})
