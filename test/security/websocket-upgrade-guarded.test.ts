/**
 * WebSocket upgrades go through the same checks as plain requests: a guarded route refuses an
 * upgrade without a valid token (401) and a limited route counts upgrades (429); the upstream
 * sees no upgrade attempt for refused ones.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StartedGateway } from '../helpers/gateway.js'
import type { TestUpstream } from '../helpers/upstream.js'
import { rawExchange, Resources, statusOf } from './harness.js'
import { hs256, SECRET, unsigned } from './tokens.js'

const res = new Resources()
afterAll(() => res.closeAll())

let gw: StartedGateway
let up: TestUpstream
const upgrades: string[] = []

beforeAll(async () => {
  up = await res.upstream()
  up.server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    upgrades.push(req.url ?? '')
    socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n')
  })
  gw = await res.gateway({
    jwt: { algorithms: ['HS256'], secret: SECRET },
    pools: { main: { backends: [up.url] } },
    routes: [
      { name: 'ws', match: { path: '/ws' }, pool: 'main', websocket: true, jwt: true, rateLimit: { max: 2, window: '1m' } },
      { name: 'live', match: { path: '/live' }, pool: 'main', websocket: true, jwt: true },
    ],
  })
})

const upgrade = (auth?: string, path = '/ws/chat'): Promise<string> =>
  rawExchange(
    Number(new URL(gw.url).port),
    `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${auth ? `Authorization: Bearer ${auth}\r\n` : ''}\r\n`,
  )

describe('WebSocket upgrades', () => {
  it('are refused without a valid token and counted by the rate limit', async () => {
    const none = await upgrade()
    expect(statusOf(none)).toBe(401)
    expect(none).toContain('Bearer error="invalid_token"')
    expect(statusOf(await upgrade(unsigned({ sub: 'x' })))).toBe(401)
    expect(upgrades).toEqual([])
    // Refused upgrades spent the budget of 2 (the limit runs first): the valid one is 429.
    const limited = await upgrade(hs256({ sub: 'alice' }))
    expect(statusOf(limited)).toBe(429)
    expect(limited.toLowerCase()).toContain('retry-after')
    expect(upgrades).toEqual([])
  })

  it('with a valid token reach the upstream (the refusals above are not refusing everything)', async () => {
    expect(statusOf(await upgrade(hs256({ sub: 'alice' }), '/live/feed'))).toBe(101)
    expect(upgrades).toEqual(['/live/feed'])
  })
})
