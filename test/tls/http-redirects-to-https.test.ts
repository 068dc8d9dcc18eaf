import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import net from 'node:net'
import { request } from 'undici'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { httpsLocation } from '../../src/tls/redirect.js'
import { createPki, type TestPki, type IssuedFiles } from './helpers/pki.js'
import { httpsRequest } from './helpers/clients.js'

let pki: TestPki
let leaf: IssuedFiles
let up: TestUpstream
let gw: StartedGateway | undefined

beforeAll(async () => {
  pki = await createPki()
  leaf = await pki.issue('gw', { subject: '/CN=gw.test', dns: ['gw.test'], ips: ['127.0.0.1'] })
  up = await startUpstream('a')
})
afterEach(async () => {
  await gw?.close()
  gw = undefined
})
afterAll(async () => {
  await up?.close()
  await pki?.cleanup()
})

function config(redirectHttp: boolean) {
  return simpleConfig([up.url], { top: { server: { tls: { port: 0, redirectHttp, certificates: [{ cert: leaf.cert, key: leaf.key }] } } } })
}

/** Raw bytes in, whole answer out (the server or we close after one response). */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text))
    let out = ''
    s.on('data', (d) => {
      out += d.toString('latin1')
      if (out.includes('\r\n\r\n')) s.end()
    })
    s.on('end', () => resolve(out))
    s.on('error', reject)
  })
}

describe('plain HTTP redirected to https (redirectHttp)', () => {
  it('answers 308 to the same host, path and query on the https port, without touching the upstream', async () => {
    gw = await startGateway(config(true))
    const tlsPort = new URL(gw.httpsUrl!).port
    const before = up.requests.length
    const get = await request(`${gw.url}/a/b?x=1&y=%20z`, { headers: { host: 'api.example.com:8080' } })
    await get.body.text()
    expect(get.statusCode).toBe(308)
    expect(get.headers.location).toBe(`https://api.example.com:${tlsPort}/a/b?x=1&y=%20z`)
    // 308 keeps the method and body (RFC 9110 §15.4.9): a POST is redirected the same way.
    const post = await request(`${gw.url}/submit`, { method: 'POST', body: 'data', headers: { host: 'api.example.com' } })
    await post.body.text()
    expect(post.statusCode).toBe(308)
    expect(post.headers.location).toBe(`https://api.example.com:${tlsPort}/submit`)
    expect(up.requests.length).toBe(before)
    // The target works.
    const followed = await httpsRequest(Number(tlsPort), '/a/b?x=1', { ca: pki.ca.pem, servername: 'gw.test' })
    expect(followed.status).toBe(200)
  })

  it('leaves the port out when the https port is 443, and keeps IPv6 literals bracketed', () => {
    expect(httpsLocation('api.example.com', '/p?q=1', 443)).toBe('https://api.example.com/p?q=1')
    expect(httpsLocation('api.example.com:80', '/', 443)).toBe('https://api.example.com/')
    expect(httpsLocation('[2001:db8::1]:8080', '/x', 8443)).toBe('https://[2001:db8::1]:8443/x')
    expect(httpsLocation('[2001:db8::1]', '/x', 443)).toBe('https://[2001:db8::1]/x')
  })

  it('refuses to build a Location from a malformed Host or target (no open redirect)', async () => {
    expect(httpsLocation('evil.example/path', '/', 443)).toBeUndefined()
    expect(httpsLocation('user@evil.example', '/', 443)).toBeUndefined()
    expect(httpsLocation(undefined, '/', 443)).toBeUndefined()
    expect(httpsLocation('ok.example', 'http://other.example/', 443)).toBeUndefined()
    gw = await startGateway(config(true))
    const answer = await rawRequest(Number(new URL(gw.url).port), 'GET / HTTP/1.1\r\nHost: evil.example/phish\r\n\r\n')
    expect(answer.startsWith('HTTP/1.1 400')).toBe(true)
    expect(answer).toContain('cannot redirect to https')
  })

  it('redirects WebSocket upgrades too instead of tunnelling them in clear text', async () => {
    gw = await startGateway(config(true))
    const answer = await rawRequest(
      Number(new URL(gw.url).port),
      'GET /ws HTTP/1.1\r\nHost: api.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    )
    expect(answer.startsWith('HTTP/1.1 308')).toBe(true)
    expect(answer).toContain(`location: https://api.example.com:${new URL(gw.httpsUrl!).port}/ws`)
  })

  it('never redirects the admin listener', async () => {
    gw = await startGateway(config(true))
    const res = await request(`${gw.adminUrl}/health`)
    await res.body.text()
    expect(res.statusCode).toBe(200)
  })

  it('serves plain HTTP when redirectHttp is off, and follows the setting across a reload', async () => {
    gw = await startGateway(config(false))
    const plain = await request(`${gw.url}/x`)
    await plain.body.text()
    expect(plain.statusCode).toBe(200)
    expect((await gw.reload(config(true))).ok).toBe(true)
    const redirected = await request(`${gw.url}/x`, { headers: { host: 'h.example' } })
    await redirected.body.text()
    expect(redirected.statusCode).toBe(308)
  })
})
