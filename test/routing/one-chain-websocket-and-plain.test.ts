/**
 * One pool chain for plain requests and WebSocket upgrades: with the same key, a plain GET and
 * an upgrade reach the same backend (consistent-hash pool) and the same side of a sticky split.
 */
import { afterEach, describe, expect, it } from 'vitest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { WebSocketServer, WebSocket } from 'ws'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'

interface WsUpstream {
  readonly name: string
  readonly url: string
  readonly upgrades: string[]
  close(): Promise<void>
}

let ups: WsUpstream[] = []
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  gw = undefined
})

/** An upstream that names itself: in `x-upstream` and the body of plain answers, and as the first frame of a WebSocket. */
async function startWsUpstream(name: string): Promise<WsUpstream> {
  const upgrades: string[] = []
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name })
    res.end(name)
  })
  const wss = new WebSocketServer({ server })
  wss.on('connection', (ws, req) => {
    upgrades.push(String(req.headers['x-user-id']))
    ws.send(name)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    name,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    upgrades,
    async close() {
      for (const c of wss.clients) c.terminate()
      await new Promise<void>((r) => wss.close(() => r()))
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

async function plainName(url: string, key: string): Promise<string> {
  const res = await request(url, { headers: { 'x-user-id': key } })
  const body = await res.body.text()
  expect(res.statusCode).toBe(200)
  expect(res.headers['x-upstream']).toBe(body)
  return body
}

/** Open a WebSocket with the key, return the name its backend sends first, close. */
function wsName(url: string, key: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { 'x-user-id': key } })
    ws.once('message', (d) => {
      resolve(d.toString())
      ws.close()
    })
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected ${res.statusCode}`)))
  })
}

const KEYS = Array.from({ length: 20 }, (_, i) => `user-${i * 7919}`)

describe('one pool chain for plain requests and WebSocket upgrades', () => {
  it('a consistent-hash pool sends a key\'s upgrade to the backend its plain requests reach', async () => {
    ups = await Promise.all(['a', 'b', 'c', 'd'].map(startWsUpstream))
    gw = await startGateway({
      pools: { ring: { algorithm: 'consistent-hash', hashOn: 'header:x-user-id', backends: ups.map((u) => u.url) } },
      routes: [{ name: 'live', match: { path: '/' }, pool: 'ring', websocket: true }],
    })
    const wsBase = gw.url.replace('http', 'ws')
    const plain = new Map<string, string>()
    const upgraded = new Map<string, string>()
    for (const key of KEYS) {
      plain.set(key, await plainName(`${gw.url}/live`, key))
      upgraded.set(key, await wsName(`${wsBase}/live`, key))
    }
    expect(upgraded).toEqual(plain)
    // The keys spread over the ring: this says something about hashing, not one backend for all.
    expect(new Set(plain.values()).size).toBeGreaterThanOrEqual(3)
    // Each upstream saw exactly the upgrades of the keys it serves.
    for (const u of ups) expect([...u.upgrades].sort()).toEqual(KEYS.filter((k) => plain.get(k) === u.name).sort())
  })

  it('a sticky split sends a key\'s upgrade to the pool its plain requests reach', async () => {
    ups = await Promise.all(['blue-1', 'blue-2', 'green-1', 'green-2'].map(startWsUpstream))
    gw = await startGateway({
      pools: {
        blue: { backends: [ups[0]!.url, ups[1]!.url] },
        green: { backends: [ups[2]!.url, ups[3]!.url] },
      },
      routes: [
        {
          name: 'live',
          match: { path: '/' },
          split: [
            { pool: 'blue', weight: 50 },
            { pool: 'green', weight: 50 },
          ],
          sticky: 'header:x-user-id',
          websocket: true,
        },
      ],
    })
    const wsBase = gw.url.replace('http', 'ws')
    const poolOf = (name: string): string => name.split('-')[0]!
    const plain = new Map<string, string>()
    const upgraded = new Map<string, string>()
    for (const key of KEYS) {
      plain.set(key, poolOf(await plainName(`${gw.url}/live`, key)))
      upgraded.set(key, poolOf(await wsName(`${wsBase}/live`, key)))
    }
    expect(upgraded).toEqual(plain)
    expect(new Set(plain.values())).toEqual(new Set(['blue', 'green']))
  })
})
