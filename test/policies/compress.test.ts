/**
 * `compress` over real sockets: br/gzip by Accept-Encoding q-values, Vary, minimum size, only
 * compressible types, never already-encoded or no-transform bodies, streaming (the client gets
 * compressed bytes before the upstream has finished), and one cached representation compressed
 * per answer.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib'
import { compileTypeMatcher, negotiateEncoding } from '../../src/policies/compress.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream, type UpstreamHandler } from '../helpers/upstream.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const TEXT = JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ id: i, name: `item number ${i}`, tags: ['alpha', 'beta', 'gamma'] })))

async function setup(handler: UpstreamHandler, route: Record<string, unknown> = {}): Promise<{ gw: StartedGateway; up: TestUpstream }> {
  const up = await startUpstream('up', handler)
  cleanups.push(() => up.close())
  const gw = await startGateway({ pools: { main: { backends: [up.url] } }, routes: [{ name: 'api', match: { path: '/' }, pool: 'main', compress: true, ...route }] })
  cleanups.push(() => gw.close())
  return { gw, up }
}

const json = (body: string | Buffer, extra: Record<string, string> = {}): UpstreamHandler => (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), etag: '"v1"', ...extra })
  res.end(body)
}

async function get(url: string, ae?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; raw: Buffer }> {
  const r = await request(url, { headers: ae === undefined ? {} : { 'accept-encoding': ae } })
  return { status: r.statusCode, headers: r.headers, raw: Buffer.from(await r.body.arrayBuffer()) }
}

function decode(r: { headers: Record<string, string | string[] | undefined>; raw: Buffer }): string {
  const ce = r.headers['content-encoding']
  return (ce === 'br' ? brotliDecompressSync(r.raw) : ce === 'gzip' ? gunzipSync(r.raw) : r.raw).toString('utf8')
}

describe('compression', () => {
  it('negotiates br or gzip from Accept-Encoding q-values and streams a smaller, equal body', async () => {
    const { gw } = await setup(json(TEXT))
    const br = await get(`${gw.url}/x`, 'gzip, deflate, br')
    expect(br.headers['content-encoding']).toBe('br')
    expect(br.headers['vary']).toBe('Accept-Encoding')
    expect(br.headers['content-length']).toBeUndefined()
    expect(br.headers['etag']).toBe('W/"v1"')
    expect(br.raw.length).toBeLessThan(TEXT.length / 4)
    expect(decode(br)).toBe(TEXT)
    const gz = await get(`${gw.url}/x`, 'br;q=0.5, gzip;q=0.9')
    expect(gz.headers['content-encoding']).toBe('gzip')
    expect(decode(gz)).toBe(TEXT)
    expect((await get(`${gw.url}/x`, 'br;q=0, gzip;q=0')).headers['content-encoding']).toBeUndefined()
    expect((await get(`${gw.url}/x`, '*')).headers['content-encoding']).toBe('br')
  })

  it('sends identity, with Vary, to a client that accepts no coding', async () => {
    const { gw } = await setup(json(TEXT))
    const plain = await get(`${gw.url}/x`)
    expect(plain.headers['content-encoding']).toBeUndefined()
    expect(plain.headers['vary']).toBe('Accept-Encoding')
    expect(plain.headers['content-length']).toBe(String(TEXT.length))
    expect(plain.raw.toString()).toBe(TEXT)
  })

  it('leaves small bodies, incompressible types, encoded bodies and no-transform alone', async () => {
    const small = await setup(json('{"a":1}'))
    const s = await get(`${small.gw.url}/x`, 'br')
    expect(s.headers['content-encoding']).toBeUndefined()
    expect(s.raw.toString()).toBe('{"a":1}')
    const png = await setup((_q, res) => {
      res.writeHead(200, { 'content-type': 'image/png' })
      res.end(Buffer.alloc(5000, 7))
    })
    expect((await get(`${png.gw.url}/x`, 'br')).headers['content-encoding']).toBeUndefined()
    const pre = gzipSync(TEXT)
    const encoded = await setup(json(pre, { 'content-encoding': 'gzip' }))
    const e = await get(`${encoded.gw.url}/x`, 'br, gzip')
    expect(e.headers['content-encoding']).toBe('gzip')
    expect(e.raw.equals(pre)).toBe(true)
    const nt = await setup(json(TEXT, { 'cache-control': 'no-transform' }))
    expect((await get(`${nt.gw.url}/x`, 'br')).headers['content-encoding']).toBeUndefined()
  })

  it('honours encodings and minSize from the object form', async () => {
    const { gw } = await setup(json(TEXT), { compress: { encodings: ['gzip'], minSize: '64kb' } })
    expect((await get(`${gw.url}/x`, 'br, gzip')).headers['content-encoding']).toBeUndefined() // below 64 kb
    const big = 'x'.repeat(70 * 1024)
    const g = await setup(json(big), { compress: { encodings: ['gzip'], minSize: '64kb' } })
    const r = await get(`${g.gw.url}/x`, 'br, gzip')
    expect(r.headers['content-encoding']).toBe('gzip')
    expect(decode(r)).toBe(big)
  })

  it('streams: compressed bytes reach the client before the upstream has sent everything', async () => {
    let release!: () => void
    const released = new Promise<void>((r) => (release = r))
    const chunk = Array.from({ length: 20000 }, (_, i) => `${(i * 2654435761) % 1000003} `).join('')
    const { gw } = await setup(async (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      for (let i = 0; i < 20; i++) res.write(chunk)
      await released
      res.end('the end')
    })
    const r = await request(`${gw.url}/x`, { headers: { 'accept-encoding': 'gzip' } })
    expect(r.headers['content-encoding']).toBe('gzip')
    const parts: Buffer[] = []
    let first = true
    for await (const c of r.body) {
      parts.push(c as Buffer)
      if (first) {
        first = false
        release() // only now may the upstream finish: a buffering gateway would never get here
      }
    }
    expect(gunzipSync(Buffer.concat(parts)).toString().endsWith('the end')).toBe(true)
  })

  it('with the cache: one stored representation, compressed per answer as each client accepts', async () => {
    const { gw, up } = await setup(json(TEXT, { 'cache-control': 'max-age=60' }), { cache: { ttl: '1m' } })
    const a = await get(`${gw.url}/c`, 'br')
    const b = await get(`${gw.url}/c`, 'gzip')
    const c = await get(`${gw.url}/c`)
    expect(up.requests).toHaveLength(1)
    expect([a.headers['content-encoding'], b.headers['content-encoding'], c.headers['content-encoding']]).toEqual(['br', 'gzip', undefined])
    expect(String(b.headers['cache-status'])).toMatch(/hit/)
    expect([decode(a), decode(b), decode(c)]).toEqual([TEXT, TEXT, TEXT])
    expect(c.headers['content-length']).toBe(String(TEXT.length))
  })

  it('negotiation and type rules', () => {
    expect(negotiateEncoding('gzip, br', ['br', 'gzip'])).toBe('br')
    expect(negotiateEncoding('gzip, br', ['gzip', 'br'])).toBe('gzip')
    expect(negotiateEncoding('x-gzip', ['br', 'gzip'])).toBe('gzip')
    expect(negotiateEncoding('*;q=0.1, br;q=0', ['br', 'gzip'])).toBe('gzip')
    expect(negotiateEncoding('identity', ['br', 'gzip'])).toBeUndefined()
    expect(negotiateEncoding('GZIP;Q=1.0', ['br', 'gzip'])).toBe('gzip')
    expect(negotiateEncoding('br;q=2', ['br'])).toBeUndefined()
    const m = compileTypeMatcher(['text/*', 'application/json', 'application/*+json'])
    expect(m('text/html; charset=utf-8')).toBe(true)
    expect(m('Application/JSON')).toBe(true)
    expect(m('application/problem+json')).toBe(true)
    expect(m('text/event-stream')).toBe(false)
    expect(m('image/png')).toBe(false)
    expect(m(undefined)).toBe(false)
  })
})
