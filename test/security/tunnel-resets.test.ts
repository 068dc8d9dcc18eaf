/**
 * Resets on established and half-made WebSocket tunnels: the client or the backend resets the
 * TCP connection mid-tunnel, or the client resets while the gateway relays a backend's refusal.
 * The other side is closed, and the process survives (an unhandled 'error' on a socket taken
 * out of the HTTP machinery would be an uncaught exception here, failing the run).
 */
import { afterEach, describe, expect, it } from 'vitest'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { waitFor } from '../helpers/upstream.js'

let server: http.Server | undefined
let gw: StartedGateway | undefined
const backendSockets: net.Socket[] = []
const refusing: net.Socket[] = []
afterEach(async () => {
  await gw?.close()
  for (const s of [...backendSockets, ...refusing]) s.destroy()
  refusing.length = 0
  server?.closeAllConnections()
  if (server) await new Promise<void>((r) => server!.close(() => r()))
  server = undefined
  gw = undefined
  backendSockets.length = 0
})

/** A backend that accepts every upgrade with a bare 101 and echoes bytes; or refuses slowly. */
async function startBackend(): Promise<string> {
  server = http.createServer((_req, res) => {
    res.writeHead(403, { 'content-type': 'text/plain' })
    res.end('not an upgrade')
  })
  server.on('upgrade', (req, socket: net.Socket) => {
    if (req.url === '/refuse') {
      // Refuse the upgrade with a body that is still coming when the client resets.
      refusing.push(socket)
      socket.on('error', () => {})
      socket.write('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\nf\r\nrefused, slowly\r\n')
      return
    }
    backendSockets.push(socket)
    socket.on('error', () => {})
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')
    socket.on('data', (d) => socket.write(d))
    // Upgraded server sockets are half-open capable: close when the gateway closes its side.
    socket.on('end', () => socket.end())
  })
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const HANDSHAKE = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`

async function openTunnel(port: number, path = '/t'): Promise<{ socket: net.Socket; out: () => string; closed: () => boolean }> {
  const socket = net.connect(port, '127.0.0.1')
  let out = ''
  let closed = false
  socket.on('data', (d) => (out += d.toString('latin1')))
  socket.on('error', () => {})
  socket.on('close', () => (closed = true))
  await new Promise<void>((r) => socket.once('connect', () => r()))
  socket.write(HANDSHAKE(path))
  return { socket, out: () => out, closed: () => closed }
}

async function stillServing(): Promise<void> {
  const res = await request(`${gw!.url}/t`)
  await res.body.dump()
  expect(res.statusCode).toBe(403)
}

describe('tunnel resets', () => {
  it('the client resets an established tunnel: the backend side is closed, the gateway serves on', async () => {
    const backend = await startBackend()
    gw = await startGateway({ pools: { p: { backends: [backend] } }, routes: [{ name: 'ws', match: { path: '/' }, pool: 'p', websocket: true }] })
    const port = Number(new URL(gw.url).port)
    for (let i = 0; i < 5; i++) {
      const t = await openTunnel(port)
      await waitFor(() => t.out().includes(' 101 '), 3000, 5, 'the 101')
      t.socket.write('ping')
      await waitFor(() => t.out().includes('ping'), 3000, 5, 'the echo')
      const b = backendSockets[i]!
      let backendClosed = false
      b.on('close', () => (backendClosed = true))
      t.socket.resetAndDestroy()
      await waitFor(() => backendClosed, 3000, 5, 'the backend side to close')
    }
    await stillServing()
  })

  it('the backend resets an established tunnel: the client side is closed', async () => {
    const backend = await startBackend()
    gw = await startGateway({ pools: { p: { backends: [backend] } }, routes: [{ name: 'ws', match: { path: '/' }, pool: 'p', websocket: true }] })
    const port = Number(new URL(gw.url).port)
    const t = await openTunnel(port)
    await waitFor(() => t.out().includes(' 101 ') && backendSockets.length === 1, 3000, 5, 'the tunnel')
    backendSockets[0]!.resetAndDestroy()
    await waitFor(() => t.closed(), 3000, 5, 'the client side to close')
    await stillServing()
  })

  it('the client resets while a backend refusal is being relayed', async () => {
    const backend = await startBackend()
    gw = await startGateway({ pools: { p: { backends: [backend] } }, routes: [{ name: 'ws', match: { path: '/' }, pool: 'p', websocket: true }] })
    const port = Number(new URL(gw.url).port)
    for (let i = 0; i < 5; i++) {
      const t = await openTunnel(port, '/refuse')
      await waitFor(() => t.out().includes('refused, slowly'), 3000, 5, 'the relayed refusal')
      expect(t.out()).toMatch(/^HTTP\/1\.1 403 /)
      const b = refusing[i]!
      let backendClosed = false
      b.on('close', () => (backendClosed = true))
      b.on('end', () => b.end())
      t.socket.resetAndDestroy()
      // The gateway lets go of the upstream connection too.
      await waitFor(() => backendClosed, 3000, 5, 'the upstream connection to close')
    }
    await stillServing()
  })
})
