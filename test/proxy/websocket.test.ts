import { afterEach, describe, expect, it } from 'vitest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, WebSocket } from 'ws'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'

let server: http.Server | undefined
let wss: WebSocketServer | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  wss?.close()
  if (server) {
    server.closeAllConnections()
    await new Promise<void>((r) => server!.close(() => r()))
  }
})

async function startWsUpstream(): Promise<{ url: string; seen: http.IncomingHttpHeaders[]; paths: string[] }> {
  const seen: http.IncomingHttpHeaders[] = []
  const paths: string[] = []
  server = http.createServer((_req, res) => res.end('plain'))
  wss = new WebSocketServer({ server })
  wss.on('connection', (ws, req) => {
    seen.push(req.headers)
    paths.push(req.url ?? '')
    ws.on('message', (data) => ws.send(`echo:${data.toString()}`))
  })
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, paths }
}

function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected ${res.statusCode}`)))
  })
}

describe('WebSocket routes', () => {
  it('proxies an upgrade on a websocket: true route and relays frames both ways', async () => {
    const up = await startWsUpstream()
    gw = await startGateway({
      pools: { ws: { backends: [up.url] } },
      routes: [{ name: 'live', match: { path: '/live' }, pool: 'ws', websocket: true, rewritePrefix: '/socket' }],
    })
    const ws = await open(`${gw.url.replace('http', 'ws')}/live/feed?x=1`, { 'x-forwarded-for': '6.6.6.6' })
    const reply = await new Promise<string>((resolve) => {
      ws.once('message', (d) => resolve(d.toString()))
      ws.send('hello')
    })
    expect(reply).toBe('echo:hello')
    ws.close()
    expect(up.paths).toEqual(['/socket/feed?x=1'])
    expect(up.seen[0]!['x-forwarded-for']).toBe('127.0.0.1')
    expect(up.seen[0]!['x-request-id']).toBeTruthy()
  })

  it('refuses an upgrade on a route without websocket: true', async () => {
    const up = await startWsUpstream()
    gw = await startGateway({ pools: { ws: { backends: [up.url] } }, routes: [{ name: 'plain', match: { path: '/' }, pool: 'ws' }] })
    await expect(open(`${gw.url.replace('http', 'ws')}/x`)).rejects.toThrow(/unexpected 400/)
    expect(up.paths).toEqual([])
  })
})

describe('WebSocket upstream failures', () => {
  it('count in switchyard_upstream_errors_total like every other upstream failure', async () => {
    // A backend that refuses upgrades with 502, and a dead port.
    server = http.createServer((_req, res) => res.writeHead(502).end('no'))
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
    const refusing = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const dead = http.createServer()
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r))
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`
    await new Promise<void>((r) => dead.close(() => r()))
    gw = await startGateway({
      pools: { refusing: { backends: [refusing] }, dead: { backends: [deadUrl] } },
      routes: [
        { name: 'a', match: { path: '/a' }, pool: 'refusing', websocket: true },
        { name: 'b', match: { path: '/b' }, pool: 'dead', websocket: true },
      ],
    })
    await expect(open(`${gw.url.replace('http', 'ws')}/a`)).rejects.toThrow('unexpected 502')
    await expect(open(`${gw.url.replace('http', 'ws')}/b`)).rejects.toThrow('unexpected 502')
    const text = await (await fetch(`${gw.adminUrl}/metrics`)).text()
    expect(text).toMatch(/switchyard_upstream_errors_total\{pool="refusing",kind="status"\} 1/)
    expect(text).toMatch(/switchyard_upstream_errors_total\{pool="dead",kind="connect-error"\} 1/)
  })
})

describe('WebSocket tunnels and the connection queue', () => {
  it('do not count as requests waiting for a connection: plain requests still pass with maxPending 0', async () => {
    const up = await startWsUpstream()
    gw = await startGateway({
      pools: { ws: { backends: [up.url], maxPending: 0 } },
      routes: [{ name: 'live', match: { path: '/' }, pool: 'ws', websocket: true }],
    })
    // More tunnels than the transport has connections per backend (128).
    const sockets = await Promise.all(Array.from({ length: 130 }, () => open(`${gw!.url.replace('http', 'ws')}/feed`)))
    try {
      const res = await fetch(`${gw.url}/plain`)
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('plain')
    } finally {
      for (const ws of sockets) ws.terminate()
    }
  }, 20_000)
})
