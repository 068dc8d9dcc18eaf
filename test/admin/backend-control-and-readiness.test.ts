/**
 * Runtime backend control and readiness over real sockets:
 * - PUT /api/pools/:pool/backends/:backend drains a backend (no new requests; its in-flight
 *   request and its sticky sessions finish there), disables it (sticky sessions move too),
 *   overrides its weight, answers 404/400 JSON for unknown pools, backends and bad bodies,
 *   needs the token, keeps the state over a reload, and is audited with who and what;
 * - GET /ready (no token) is 200 {"status":"ready"} until POST /api/drain, then 503
 *   {"status":"draining"} while the data plane keeps serving; /health stays 200 (liveness).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

const TOKEN = 'backend-control-token'
let a: TestUpstream
let b: TestUpstream
let gw: StartedGateway
let releaseSlow: (() => void) | undefined
let slowAt: string | undefined

const handler = (name: string) => (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
  if (req.url === '/slow') {
    releaseSlow = () => res.writeHead(200, { 'x-upstream': name }).end('slow done')
    slowAt = name
    return
  }
  res.writeHead(200, { 'x-upstream': name }).end(name)
}

const config = () => ({
  admin: { token: TOKEN },
  pools: { main: { backends: [a.url, b.url], stickySession: { cookie: 'sy_b', ttl: '1h' } } },
  routes: [{ name: 'all', match: { path: '/' }, pool: 'main' }],
})

beforeAll(async () => {
  a = await startUpstream('a', handler('a'))
  b = await startUpstream('b', handler('b'))
  gw = await startGateway(config())
})

afterAll(async () => {
  await gw?.close()
  await a?.close()
  await b?.close()
})

type Json = Record<string, any>

async function admin(method: string, path: string, body?: unknown, token: string | null = TOKEN): Promise<{ status: number; json: Json }> {
  const headers: Record<string, string> = {}
  if (token !== null) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await request(`${gw.adminUrl}${path}`, { method: method as 'GET', headers, body: body === undefined ? undefined : JSON.stringify(body) })
  return { status: res.statusCode, json: (await res.body.json()) as Json }
}

async function get(path: string, cookie?: string): Promise<{ upstream: string; cookie: string | undefined; status: number }> {
  const res = await request(`${gw.url}${path}`, { headers: cookie === undefined ? {} : { cookie: `sy_b=${cookie}` } })
  await res.body.dump()
  const raw = res.headers['set-cookie']
  const line = Array.isArray(raw) ? raw[0] : raw
  return { status: res.statusCode, upstream: String(res.headers['x-upstream']), cookie: line?.startsWith('sy_b=') ? line.slice(5).split(';')[0] : undefined }
}

const backendPath = (url: string) => `/api/pools/main/backends/${encodeURIComponent(url)}`
const audits = (action: string): Json[] => gw.logs.filter((l) => l.type === 'audit' && l.action === action)

describe('PUT /api/pools/:pool/backends/:backend', () => {
  it('drain: new requests avoid the backend, its in-flight request and sticky sessions finish there', async () => {
    // A sticky client pinned to a.
    let pinned: string | undefined
    for (let i = 0; i < 4 && pinned === undefined; i++) {
      const r = await get('/x')
      if (r.upstream === 'a') pinned = r.cookie
    }
    expect(pinned).toBeDefined()
    // An in-flight request on a.
    let slow: Promise<{ statusCode: number; text: string }> | undefined
    for (let i = 0; i < 4 && slow === undefined; i++) {
      releaseSlow = slowAt = undefined
      const p = request(`${gw.url}/slow`).then(async (r) => ({ statusCode: r.statusCode, text: await r.body.text() }))
      await waitFor(() => slowAt !== undefined, 5000, 5, 'the slow request upstream')
      if (slowAt === 'a') slow = p
      else {
        releaseSlow!()
        await p
      }
    }
    expect(slow).toBeDefined()

    const put = await admin('PUT', backendPath(a.url), { state: 'drain' })
    expect(put.status).toBe(200)
    expect(put.json).toMatchObject({ url: a.url, state: 'drain', healthy: true })

    for (let i = 0; i < 6; i++) expect((await get('/x')).upstream).toBe('b')
    for (let i = 0; i < 3; i++) expect((await get('/x', pinned)).upstream).toBe('a')
    releaseSlow!()
    expect(await slow).toEqual({ statusCode: 200, text: 'slow done' })

    const pools = await admin('GET', '/api/pools')
    expect(pools.json[0].backends.find((x: Json) => x.url === a.url).state).toBe('drain')
    const audit = audits('backend.control').at(-1)!
    expect(audit).toMatchObject({ pool: 'main', backend: a.url, by: 'admin-token', peer: '127.0.0.1', before: { state: 'enabled' }, after: { state: 'drain' } })
  })

  it('disabled: even sticky sessions move; enabled brings it back; weight overrides and null restores', async () => {
    const pinned = (await admin('PUT', backendPath(a.url), { state: 'enabled' })).json
    expect(pinned.state).toBe('enabled')
    let cookie: string | undefined
    for (let i = 0; i < 4 && cookie === undefined; i++) {
      const r = await get('/y')
      if (r.upstream === 'a') cookie = r.cookie
    }
    expect((await admin('PUT', backendPath(a.url), { state: 'disabled' })).json.state).toBe('disabled')
    const moved = await get('/y', cookie)
    expect(moved.status).toBe(200)
    expect(moved.upstream).toBe('b')

    expect((await admin('PUT', backendPath(a.url), { state: 'enabled', weight: 3 })).json).toMatchObject({ state: 'enabled', weight: 3 })
    expect((await admin('PUT', backendPath(a.url + '/'), { weight: null })).json).toMatchObject({ url: a.url, weight: 1 })
  })

  it('holds over a reload while the backend stays in the configuration', async () => {
    await admin('PUT', backendPath(b.url), { state: 'drain' })
    const result = await gw.reload(config())
    expect(result.ok).toBe(true)
    const pools = await admin('GET', '/api/pools')
    expect(pools.json[0].backends.find((x: Json) => x.url === b.url).state).toBe('drain')
    for (let i = 0; i < 4; i++) expect((await get('/z')).upstream).toBe('a')
    await admin('PUT', backendPath(b.url), { state: 'enabled' })
  })

  it('answers 404 and 400 JSON for unknown pools and backends and bad bodies, 401 without the token', async () => {
    const noPool = await admin('PUT', `/api/pools/nope/backends/${encodeURIComponent(a.url)}`, { state: 'drain' })
    expect(noPool.status).toBe(404)
    expect(noPool.json).toMatchObject({ statusCode: 404, error: 'Not Found' })
    expect(noPool.json.message).toContain('nope')
    const noBackend = await admin('PUT', backendPath('http://127.0.0.1:1'), { state: 'drain' })
    expect(noBackend.status).toBe(404)
    expect(noBackend.json.message).toContain('http://127.0.0.1:1')
    const notUrl = await admin('PUT', '/api/pools/main/backends/not-a-url', { state: 'drain' })
    expect(notUrl.status).toBe(400)
    for (const body of [{ state: 'off' }, { weight: -1 }, { weight: '2' }, {}, { state: 'drain', extra: 1 }]) {
      const bad = await admin('PUT', backendPath(a.url), body)
      expect(bad.status, JSON.stringify(body)).toBe(400)
      expect(bad.json.statusCode).toBe(400)
    }
    expect((await admin('PUT', backendPath(a.url), { state: 'drain' }, null)).status).toBe(401)
    expect((await admin('GET', '/api/pools')).json[0].backends.find((x: Json) => x.url === a.url).state).toBe('enabled')
  })
})

describe('readiness', () => {
  it('GET /ready is 200 without a token until POST /api/drain, then 503 draining while requests are still served', async () => {
    expect(await admin('GET', '/ready', undefined, null)).toEqual({ status: 200, json: { status: 'ready' } })
    expect((await admin('POST', '/api/drain', undefined, null)).status).toBe(401)
    expect(await admin('POST', '/api/drain')).toEqual({ status: 200, json: { status: 'draining' } })
    expect(await admin('GET', '/ready', undefined, null)).toEqual({ status: 503, json: { status: 'draining' } })
    expect((await admin('GET', '/health', undefined, null)).status).toBe(200)
    expect((await get('/after-drain')).status).toBe(200)
    expect(audits('drain').at(-1)).toMatchObject({ started: true, by: 'admin-token', peer: '127.0.0.1' })
  })
})

describe('readiness on shutdown', () => {
  it('turns /ready 503 at once and keeps serving for shutdownDelay before the listeners close', async () => {
    const own = await startGateway({ server: { shutdownDelay: '400ms' }, pools: { main: { backends: [a.url] } }, routes: [{ name: 'all', match: { path: '/' }, pool: 'main' }] })
    const adminUrl = own.adminUrl!
    const dataUrl = own.url
    expect((await request(`${adminUrl}/ready`)).statusCode).toBe(200)
    const closing = own.close()
    const ready = await request(`${adminUrl}/ready`)
    expect(ready.statusCode).toBe(503)
    expect(await ready.body.json()).toEqual({ status: 'draining' })
    const served = await request(`${dataUrl}/during-delay`)
    expect(served.statusCode).toBe(200)
    await served.body.dump()
    await closing
    await expect(request(`${dataUrl}/after-close`)).rejects.toThrow()
  })
})
