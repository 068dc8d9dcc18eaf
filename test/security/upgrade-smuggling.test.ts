/**
 * The h2c smuggling class: on a WebSocket route, any Upgrade but `websocket` (h2c, HTTP/2.0,
 * TLS/1.2, foo) used to be forwarded; a backend that switched protocols then carried a second
 * request the route's checks never saw. Only `Upgrade: websocket` is tunnelled; the others are
 * refused (as an upgrade) or stripped (as the hop-by-hop header it is, without Connection: upgrade).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { rawExchange, statusOf, statusesOf } from '../helpers/raw-http.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
  gw = undefined
  up = undefined
})

async function start(): Promise<number> {
  up = await startUpstream('ws')
  gw = await startGateway({ pools: { p: { backends: [up.url] } }, routes: [{ name: 'ws', match: { path: '/' }, pool: 'p', websocket: true }] })
  return Number(new URL(gw.url).port)
}

describe('only Upgrade: websocket is tunnelled', () => {
  it.each(['h2c', 'HTTP/2.0', 'TLS/1.2', 'foo', 'websocket, h2c', 'h2c, websocket'])('Upgrade: %s with Connection: Upgrade is refused with 400 and never reaches the upstream', async (proto) => {
    const port = await start()
    const answer = await rawExchange(
      port,
      `GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: ${proto}\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\nGET /internal HTTP/1.1\r\nHost: a\r\n\r\n`,
    )
    expect(statusOf(answer), answer).toBe(400)
    expect(statusesOf(answer)).toEqual([400])
    expect(up!.requests).toHaveLength(0)
  })

  it.each(['PUT', 'PATCH', 'POST'])('a %s with Upgrade: websocket is refused, never sent upstream as a GET', async (method) => {
    const port = await start()
    const answer = await rawExchange(port, `${method} /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`)
    expect(statusOf(answer)).toBe(400)
    expect(up!.requests).toHaveLength(0)
  })

  it('Upgrade: h2c without Connection: Upgrade is an ordinary request: the header is stripped', async () => {
    const port = await start()
    const answer = await rawExchange(port, 'GET /x HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: close\r\n\r\n')
    expect(statusOf(answer)).toBe(200)
    expect(up!.requests).toHaveLength(1)
    expect(up!.requests[0]!.headers.upgrade).toBeUndefined()
  })

  it('Upgrade: websocket still reaches the upstream as an upgrade (the refusals above are not refusing everything)', async () => {
    const port = await start()
    // The test upstream answers 200 to the handshake: the gateway relays that refusal.
    const answer = await rawExchange(port, 'GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
    expect(statusOf(answer)).toBe(200)
    expect(up!.requests).toHaveLength(1)
    expect(up!.requests[0]!.headers.upgrade).toBe('websocket')
  })
})
