/**
 * Regression tests for the holes an outside attack run found (issue 13): each request here
 * used to be routed, forwarded or answered wrongly.
 */
import { afterEach, describe, expect, it } from 'vitest'
import http from 'node:http'
import net from 'node:net'
import { request } from 'undici'
import { rawExchange, statusOf, statusesOf } from '../helpers/raw-http.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  gw = undefined
})

const port = (): number => Number(new URL(gw!.url).port)

async function guardedAndPublic(): Promise<{ guarded: TestUpstream; open: TestUpstream }> {
  const guarded = await startUpstream('guarded')
  const open = await startUpstream('public')
  ups = [guarded, open]
  gw = await startGateway({
    jwt: { algorithms: ['HS256'], secret: 'a-test-secret-that-is-long-enough-000' },
    pools: { guarded: { backends: [guarded.url] }, public: { backends: [open.url] } },
    routes: [
      { name: 'admin', match: { path: '/admin', methods: ['GET', 'POST'] }, pool: 'guarded', jwt: true },
      { name: 'rest', match: { path: '/' }, pool: 'public' },
    ],
  })
  return { guarded, open }
}

describe('auth and routing bypass', () => {
  it('HEAD matches wherever GET does: a guarded GET route is not skipped by HEAD', async () => {
    const { guarded, open } = await guardedAndPublic()
    const res = await request(`${gw!.url}/admin`, { method: 'HEAD' })
    await res.body.dump()
    expect(res.statusCode).toBe(401)
    expect(guarded.requests).toHaveLength(0)
    expect(open.requests).toHaveLength(0)
  })

  it('a method the guarded route does not list gets 405 with Allow, never the public route', async () => {
    const { guarded, open } = await guardedAndPublic()
    const res = await request(`${gw!.url}/admin/users`, { method: 'DELETE' })
    expect(res.statusCode).toBe(405)
    expect(res.headers.allow).toBe('GET, POST, HEAD')
    expect(await res.body.json()).toMatchObject({ statusCode: 405, error: 'Method Not Allowed' })
    expect(guarded.requests).toHaveLength(0)
    expect(open.requests).toHaveLength(0)
    // Other paths still reach the public route.
    const other = await request(`${gw!.url}/else`, { method: 'DELETE' })
    await other.body.dump()
    expect(other.statusCode).toBe(200)
  })

  it.each([
    ['admin.example.com..'],
    ['evil@admin.example.com'],
    ['admin.example.com,evil'],
    ['admin.example.com/x'],
    ['admin.example.com\\x'],
    ['admin example.com'],
    ['admin.example.com:99999'],
    ['admin.example.com:'],
    ['[::1'],
  ])('Host %j is a 400 and is never forwarded', async (host) => {
    ups = [await startUpstream('a')]
    gw = await startGateway(simpleConfig([ups[0]!.url]))
    const answer = await rawExchange(port(), `GET /x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
    expect(statusOf(answer), answer).toBe(400)
    expect(ups[0]!.requests).toHaveLength(0)
  })

  it('two Host headers are a 400 (RFC 9112 §3.2)', async () => {
    ups = [await startUpstream('a')]
    gw = await startGateway(simpleConfig([ups[0]!.url]))
    const answer = await rawExchange(port(), 'GET /x HTTP/1.1\r\nHost: a.example\r\nHost: evil.example\r\nConnection: close\r\n\r\n')
    expect(statusOf(answer)).toBe(400)
    expect(ups[0]!.requests).toHaveLength(0)
  })

  it('valid hosts still pass: names, ports, IPv4, IPv6 literals, a trailing dot', async () => {
    ups = [await startUpstream('a')]
    gw = await startGateway(simpleConfig([ups[0]!.url]))
    for (const host of ['a.example', 'a.example:8080', '127.0.0.1:1', '[::1]:80', 'a.example.', 'under_score.example']) {
      const answer = await rawExchange(port(), `GET /x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
      expect(statusOf(answer), host).toBe(200)
    }
  })

  it('underscore spellings of gateway-owned headers never reach the upstream', async () => {
    ups = [await startUpstream('a')]
    gw = await startGateway(simpleConfig([ups[0]!.url]))
    const res = await request(`${gw.url}/x`, { headers: { x_user_id: 'admin', X_Forwarded_For: '6.6.6.6', x_client_cert_subject: 'CN=root', 'x-fine': 'yes' } })
    await res.body.dump()
    const seen = ups[0]!.requests[0]!.headers
    expect(Object.keys(seen).filter((k) => k.includes('_'))).toEqual([])
    expect(seen['x-fine']).toBe('yes')
    expect(seen['x-forwarded-for']).not.toContain('6.6.6.6')
  })

  it('TRACE is 405 and never forwarded', async () => {
    ups = [await startUpstream('a')]
    gw = await startGateway(simpleConfig([ups[0]!.url]))
    const res = await request(`${gw.url}/x`, { method: 'TRACE' })
    expect(res.statusCode).toBe(405)
    await res.body.dump()
    expect(ups[0]!.requests).toHaveLength(0)
  })
})

describe('framing and response integrity', () => {
  it('Transfer-Encoding: gzip, chunked is refused and nothing is forwarded', async () => {
    ups = [await startUpstream('a')]
    gw = await startGateway(simpleConfig([ups[0]!.url]))
    const answer = await rawExchange(port(), 'POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')
    expect(statusOf(answer)).toBe(400)
    expect(statusesOf(answer)).toEqual([400])
    expect(ups[0]!.requests).toHaveLength(0)
  })

  it('a malformed request pipelined behind a streaming response never lands inside it', async () => {
    // The upstream streams a chunked body slowly; the client pipelines garbage behind its GET.
    const slow = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('part-one;')
      setTimeout(() => res.end('part-two'), 150)
    })
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r))
    try {
      gw = await startGateway(simpleConfig([`http://127.0.0.1:${(slow.address() as net.AddressInfo).port}`]))
      const s = net.connect(port(), '127.0.0.1')
      let out = ''
      s.on('data', (d) => (out += d.toString('latin1')))
      await new Promise<void>((r) => s.once('connect', () => r()))
      s.write('GET /stream HTTP/1.1\r\nHost: a\r\n\r\n')
      await waitFor(() => out.includes('part-one'), 3000, 5, 'the first chunk')
      s.write('THIS IS NOT HTTP\r\n\r\n')
      await waitFor(() => s.destroyed || s.readableEnded || out.includes('part-two'), 3000, 5, 'the end of the first response')
      await new Promise((r) => setTimeout(r, 50))
      s.destroy()
      expect(statusesOf(out)).toEqual([200])
      expect(out).toContain('part-two')
      expect(out).not.toContain('400')
    } finally {
      await new Promise<void>((r) => slow.close(() => r()))
    }
  })

  it('bytes after a Connection: close request are ignored, not answered', async () => {
    ups = [await startUpstream('a')]
    gw = await startGateway(simpleConfig([ups[0]!.url]))
    const answer = await rawExchange(port(), 'GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGARBAGE GARBAGE\r\n\r\n')
    expect(statusesOf(answer)).toEqual([200])
    const http10 = await rawExchange(port(), 'GET /x HTTP/1.0\r\nHost: a\r\n\r\nGARBAGE\r\n\r\n')
    expect(statusesOf(http10)).toEqual([200])
  })
})
