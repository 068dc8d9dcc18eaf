/**
 * An upstream's redirect used to reveal the backend address (`Location: http://127.0.0.1:PORT/
 * login`, built from the Host the backend received). Location and Refresh naming the backend's
 * origin are rewritten to the client-facing origin (NGINX's `proxy_redirect default`), and a
 * route with `passHost: true` sends the client's Host upstream instead.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { rawExchange } from '../helpers/raw-http.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { rewriteBackendUrl } from '../../src/proxy/redirect-rewrite.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
  gw = undefined
  up = undefined
})

/** An upstream that redirects to itself the way frameworks do: from the Host it received. */
async function selfRedirecting(): Promise<TestUpstream> {
  return startUpstream('r', (req, res) => {
    const self = `http://${req.headers.host}`
    const to = req.url === '/elsewhere' ? 'https://login.example.net/auth?x=1' : `${self}/login?next=%2Fa`
    res.writeHead(302, { location: to, refresh: `0; url=${self}/refreshed`, 'content-length': 0 })
    res.end()
  })
}

describe('Location and Refresh', () => {
  it('naming the backend origin are rewritten to the client-facing origin', async () => {
    up = await selfRedirecting()
    gw = await startGateway({ pools: { p: { backends: [up.url] } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] })
    const res = await request(`${gw.url}/a`, { headers: { host: 'shop.example.com' } })
    await res.body.dump()
    expect(res.statusCode).toBe(302)
    expect(res.headers.location).toBe('http://shop.example.com/login?next=%2Fa')
    expect(res.headers.refresh).toBe('0; url=http://shop.example.com/refreshed')
    expect(JSON.stringify(res.headers)).not.toContain(String(up.port))
  })

  it('naming another site pass unchanged', async () => {
    up = await selfRedirecting()
    gw = await startGateway({ pools: { p: { backends: [up.url] } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] })
    const res = await request(`${gw.url}/elsewhere`, { headers: { host: 'shop.example.com' } })
    await res.body.dump()
    expect(res.headers.location).toBe('https://login.example.net/auth?x=1')
  })

  it('an HTTP/1.0 request without Host gets a path-only Location', async () => {
    up = await selfRedirecting()
    gw = await startGateway({ pools: { p: { backends: [up.url] } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] })
    const answer = await rawExchange(Number(new URL(gw.url).port), 'GET /a HTTP/1.0\r\n\r\n')
    expect(answer).toMatch(/\r\nlocation: \/login\?next=%2Fa\r\n/i)
    expect(answer).not.toContain(String(up.port))
  })
})

describe('passHost', () => {
  it("true sends the client's Host upstream; the default sends the backend's authority", async () => {
    up = await selfRedirecting()
    gw = await startGateway({
      pools: { p: { backends: [up.url] } },
      routes: [
        { name: 'pass', match: { path: '/pass' }, pool: 'p', passHost: true },
        { name: 'own', match: { path: '/' }, pool: 'p' },
      ],
    })
    const passed = await request(`${gw.url}/pass`, { headers: { host: 'shop.example.com:8080' } })
    await passed.body.dump()
    expect(up.requests[0]!.headers.host).toBe('shop.example.com:8080')
    expect(passed.headers.location).toBe('http://shop.example.com:8080/login?next=%2Fa')
    const own = await request(`${gw.url}/x`, { headers: { host: 'shop.example.com:8080' } })
    await own.body.dump()
    expect(up.requests[1]!.headers.host).toBe(`127.0.0.1:${up.port}`)
    expect(up.requests[1]!.headers['x-forwarded-host']).toBe('shop.example.com:8080')
  })
})

describe('rewriteBackendUrl', () => {
  const backend = new URL('http://10.0.0.7:8080')
  it.each([
    ['http://10.0.0.7:8080/login', 'https://gw.example/login'],
    ['HTTP://10.0.0.7:8080', 'https://gw.example/'],
    ['http://10.0.0.7:8080?q=1', 'https://gw.example?q=1'],
    ['http://10.0.0.7:80801/x', undefined],
    ['http://10.0.0.7:8080.evil.example/x', undefined],
    ['https://10.0.0.7:8080/x', undefined],
    ['/relative', undefined],
    ['http://other.example/x', undefined],
  ])('%s → %s', (value, expected) => {
    expect(rewriteBackendUrl(value, backend, 'https://gw.example')).toBe(expected)
  })

  it('matches the default port written out', () => {
    expect(rewriteBackendUrl('http://b.internal:80/x', new URL('http://b.internal'), 'http://gw')).toBe('http://gw/x')
    expect(rewriteBackendUrl('https://b.internal/x', new URL('https://b.internal'), 'http://gw')).toBe('http://gw/x')
  })
})
