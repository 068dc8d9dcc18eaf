import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import net from 'node:net'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
})

describe('request methods', () => {
  it('proxies extension methods (WebDAV PROPFIND, QUERY) with their bodies', async () => {
    up = await startUpstream('a')
    gw = await startGateway(simpleConfig([up.url]))
    for (const method of ['PROPFIND', 'QUERY', 'M-SEARCH']) {
      const res = await request(`${gw.url}/dav`, { method, body: '<x/>', headers: { 'content-type': 'application/xml' } })
      expect(res.statusCode, method).toBe(200)
      await res.body.text()
    }
    expect(up.requests.map((r) => [r.method, r.body.toString()])).toEqual([
      ['PROPFIND', '<x/>'],
      ['QUERY', '<x/>'],
      ['M-SEARCH', '<x/>'],
    ])
  })

  it('refuses CONNECT: a gateway is not a forward proxy', async () => {
    up = await startUpstream('a')
    gw = await startGateway(simpleConfig([up.url]))
    const port = Number(new URL(gw.url).port)
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'))
      let out = ''
      s.on('data', (d) => {
        out += d.toString()
        if (out.includes('\r\n\r\n')) s.destroy()
      })
      s.on('close', () => resolve(out))
      s.on('error', reject)
      setTimeout(() => s.destroy(), 2000)
    })
    expect(answer).toMatch(/^HTTP\/1\.1 405 /)
    expect(up.requests).toHaveLength(0)
  })
})

describe('error answers free their connection', () => {
  it('a CONNECT client that never reads nor closes loses its socket after the grace', async () => {
    up = await startUpstream('a')
    gw = await startGateway(simpleConfig([up.url]))
    const port = Number(new URL(gw.url).port)
    const s = net.connect(port, '127.0.0.1')
    s.on('error', () => {})
    await new Promise<void>((r) => s.once('connect', () => r()))
    s.pause()
    s.write('CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n')
    const connections = (): Promise<number> => new Promise((r, j) => gw!.listener.server.getConnections((e, n) => (e ? j(e) : r(n))))
    await waitFor(async () => (await connections()) === 1, 2_000, 10, 'the connection to be counted')
    await waitFor(async () => (await connections()) === 0, 5_000, 25, 'the gateway to drop the half-closed socket')
    s.destroy()
  })
})
