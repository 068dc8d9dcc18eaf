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
