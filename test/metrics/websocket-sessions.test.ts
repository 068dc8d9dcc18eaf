/**
 * A WebSocket upgrade is an answer like any other (counted with status 101, logged) and then a
 * session: open now, opened in total, how long it lasted. It leaves the in-flight gauge when
 * the handshake is answered (it used to stay there for good: +1 per upgrade).
 */
import { afterEach, describe, expect, it } from 'vitest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, WebSocket } from 'ws'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { waitFor } from '../helpers/upstream.js'
import { scrape, valueOf } from './scrape.js'

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

async function wsUpstream(): Promise<string> {
  server = http.createServer((_req, res) => res.end('plain'))
  wss = new WebSocketServer({ server })
  wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d)))
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

describe('WebSocket sessions', () => {
  it('count the handshake (101) and the session, log it, and leave the in-flight gauge at 0', async () => {
    const backend = await wsUpstream()
    gw = await startGateway({ pools: { ws: { backends: [backend] } }, routes: [{ name: 'live', match: { path: '/live' }, pool: 'ws', websocket: true }] })
    const ws = await open(`${gw.url.replace('http', 'ws')}/live/a`)
    let text = await scrape(gw.adminUrl!)
    expect(valueOf(text, 'switchyard_requests_in_flight')).toBe(0)
    expect(valueOf(text, 'switchyard_websocket_sessions', { route: 'live' })).toBe(1)
    expect(valueOf(text, 'switchyard_websocket_sessions_total', { route: 'live', pool: 'ws' })).toBe(1)
    expect(valueOf(text, 'switchyard_requests_total', { route: 'live', pool: 'ws', status: '101', method: 'GET' })).toBe(1)
    expect(gw.logs.find((l) => l.type === 'access' && l.status === 101)).toMatchObject({ route: 'live', pool: 'ws', path: '/live/a' })

    ws.close()
    text = await waitFor<string | undefined>(async () => {
      const t = await scrape(gw!.adminUrl!)
      return valueOf(t, 'switchyard_websocket_sessions', { route: 'live' }) === 0 ? t : undefined
    }, 3000, 20, 'session closed') ?? ''
    expect(valueOf(text, 'switchyard_websocket_session_duration_seconds_count', { route: 'live' })).toBe(1)
    expect(valueOf(text, 'switchyard_requests_in_flight')).toBe(0)
  })

  it('a refused upgrade is counted and logged with its code', async () => {
    const backend = await wsUpstream()
    gw = await startGateway({ pools: { ws: { backends: [backend] } }, routes: [{ name: 'plain', match: { path: '/' }, pool: 'ws' }] })
    await expect(open(`${gw.url.replace('http', 'ws')}/x`)).rejects.toThrow(/400/)
    const text = await scrape(gw.adminUrl!)
    expect(valueOf(text, 'switchyard_requests_total', { route: 'plain', status: '400' })).toBe(1)
    expect(valueOf(text, 'switchyard_errors_total', { code: 'SWITCHYARD_BAD_REQUEST' })).toBe(1)
    expect(valueOf(text, 'switchyard_requests_in_flight')).toBe(0)
    expect(gw.logs.find((l) => l.type === 'access' && l.status === 400)).toMatchObject({ route: 'plain', code: 'SWITCHYARD_BAD_REQUEST' })
  })
})
