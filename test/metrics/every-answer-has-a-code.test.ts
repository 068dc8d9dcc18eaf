/**
 * Every answer the gateway gives itself carries the one JSON error shape with a `code`
 * (SWITCHYARD_*) clients can branch on, and is counted and logged: also those given before a
 * route is matched (a malformed percent-escape) and parser-level refusals (no request object
 * exists).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { rawExchange } from '../helpers/raw-http.js'
import { scrape, valueOf } from './scrape.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
})

async function json(url: string, init: Parameters<typeof request>[1] = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url, init)
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
}

describe('the JSON error shape with a code', () => {
  it('a malformed percent-escape is 400 SWITCHYARD_BAD_PATH in our shape, counted and logged', async () => {
    gw = await startGateway({ pools: { p: { backends: ['http://127.0.0.1:9'] } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] })
    const r = await json(`${gw.url}/api/%zz`)
    expect(r).toEqual({ status: 400, body: { statusCode: 400, error: 'Bad Request', message: 'Bad request target: malformed percent-encoding', code: 'SWITCHYARD_BAD_PATH' } })
    const text = await scrape(gw.adminUrl!)
    expect(valueOf(text, 'switchyard_requests_total', { route: '-', status: '400', method: 'GET' })).toBe(1)
    expect(valueOf(text, 'switchyard_errors_total', { code: 'SWITCHYARD_BAD_PATH' })).toBe(1)
    expect(valueOf(text, 'switchyard_requests_in_flight')).toBe(0)
    expect(gw.logs.find((l) => l.type === 'access')).toMatchObject({ status: 400, code: 'SWITCHYARD_BAD_PATH', path: '/api/%zz', method: 'GET' })
  })

  it('a parser-level refusal is JSON with a code, counted and logged', async () => {
    gw = await startGateway({ pools: { p: { backends: ['http://127.0.0.1:9'] } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] })
    const port = Number(new URL(gw.url).port)
    const answer = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: a\r\nbad header line\r\n\r\n')
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ statusCode: 400, code: 'SWITCHYARD_BAD_REQUEST' })
    const text = await scrape(gw.adminUrl!)
    expect(valueOf(text, 'switchyard_requests_total', { route: '-', status: '400', method: '-' })).toBe(1)
    expect(valueOf(text, 'switchyard_errors_total', { code: 'SWITCHYARD_BAD_REQUEST' })).toBe(1)
    expect(gw.logs.find((l) => l.type === 'access')).toMatchObject({ status: 400, code: 'SWITCHYARD_BAD_REQUEST', client: '127.0.0.1' })
  })

  it('no route, TRACE, an upstream failure and the admin listener all answer with a code', async () => {
    gw = await startGateway({
      admin: { token: 's3cret' },
      pools: { p: { backends: ['http://127.0.0.1:9'], retry: { attempts: 0 } } },
      routes: [{ name: 'r', match: { path: '/api' }, pool: 'p' }],
    })
    expect((await json(`${gw.url}/nothing`)).body).toMatchObject({ statusCode: 404, code: 'SWITCHYARD_NO_ROUTE' })
    expect((await json(`${gw.url}/api`, { method: 'TRACE' })).body).toMatchObject({ statusCode: 405, code: 'SWITCHYARD_METHOD_NOT_ALLOWED' })
    expect((await json(`${gw.url}/api/x`)).body).toMatchObject({ statusCode: 502, code: 'SWITCHYARD_UPSTREAM_CONNECT' })
    expect((await json(`${gw.adminUrl}/api/pools`)).body).toMatchObject({ statusCode: 401, code: 'SWITCHYARD_UNAUTHORIZED' })
    const auth = { authorization: 'Bearer s3cret' }
    expect((await json(`${gw.adminUrl}/api/nothing`, { headers: auth })).body).toMatchObject({ statusCode: 404, code: 'SWITCHYARD_NOT_FOUND' })
    const text = (await (await request(`${gw.adminUrl}/metrics`, { headers: auth })).body.text())
    expect(valueOf(text, 'switchyard_errors_total', { code: 'SWITCHYARD_UPSTREAM_CONNECT' })).toBe(1)
    expect(valueOf(text, 'switchyard_errors_total', { code: 'SWITCHYARD_NO_ROUTE' })).toBe(1)
  })
})
