/**
 * `websocket: { idleTimeout }`: a tunnel with no bytes either way for that long is closed on
 * both sides (it used to hold both sockets and a connection slot forever).
 */
import { afterEach, describe, expect, it } from 'vitest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, WebSocket } from 'ws'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { waitFor } from '../helpers/upstream.js'
import { parseConfigText } from '../../src/config/index.js'

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
  gw = undefined
})

async function startWsUpstream(): Promise<{ url: string; closed: () => number }> {
  let closed = 0
  server = http.createServer((_req, res) => res.end('plain'))
  wss = new WebSocketServer({ server })
  wss.on('connection', (ws) => {
    ws.on('message', (data) => ws.send(`echo:${data.toString()}`))
    ws.on('close', () => closed++)
  })
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, closed: () => closed }
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

function echo(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    ws.once('message', (d) => resolve(d.toString()))
    ws.send(text)
  })
}

describe('WebSocket idle timeout', () => {
  it('closes both sides of a tunnel idle for idleTimeout', async () => {
    const up = await startWsUpstream()
    gw = await startGateway({ pools: { ws: { backends: [up.url] } }, routes: [{ name: 'live', match: { path: '/' }, pool: 'ws', websocket: { idleTimeout: '200ms' } }] })
    const ws = await open(`${gw.url.replace('http', 'ws')}/feed`)
    expect(await echo(ws, 'hello')).toBe('echo:hello')
    let clientClosed = false
    ws.on('close', () => (clientClosed = true))
    ws.on('error', () => {})
    await waitFor(() => clientClosed && up.closed() === 1, 5000, 10, 'both sides closed')
  })

  it('traffic keeps a tunnel open past idleTimeout', async () => {
    const up = await startWsUpstream()
    gw = await startGateway({ pools: { ws: { backends: [up.url] } }, routes: [{ name: 'live', match: { path: '/' }, pool: 'ws', websocket: { idleTimeout: '300ms' } }] })
    const ws = await open(`${gw.url.replace('http', 'ws')}/feed`)
    let clientClosed = false
    ws.on('close', () => (clientClosed = true))
    for (let i = 0; i < 8; i++) {
      expect(await echo(ws, `m${i}`)).toBe(`echo:m${i}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(clientClosed).toBe(false)
    expect(up.closed()).toBe(0)
    ws.close()
  })

  it('websocket: true gets the 10m default; { idleTimeout } sets it; a plain route has none', () => {
    const s = parseConfigText(
      'pools: { a: { backends: [http://127.0.0.1:1] } }\nroutes: [{ name: a, pool: a, websocket: true }, { name: b, pool: a, websocket: { idleTimeout: 30s } }, { name: c, pool: a }]',
    )
    expect(s.routes.map((r) => [r.websocket, r.websocketIdleTimeout])).toEqual([
      [true, 600_000],
      [true, 30_000],
      [false, undefined],
    ])
  })
})
