/**
 * The admin API as an operator meets it: the bearer token on every call but GET /health (and
 * the dashboard's data-free HTML shell at GET /), schema-validated inputs answered with 400
 * JSON that names the problem, 404 JSON for unknown endpoints and routes, and one audit log
 * line per change (weights, purge, reload), including refused reloads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const TOKEN = 'admin-validation-token'
let v1: TestUpstream
let v2: TestUpstream
let gw: StartedGateway
let dir: string
let file: string

const config = (a: string, b: string, weights = [80, 20]): string => `
server: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0, token: ${TOKEN} }
pools:
  v1: { backends: [${a}] }
  v2: { backends: [${b}] }
routes:
  - name: web
    match: { path: /web }
    split:
      - { pool: v1, weight: ${weights[0]} }
      - { pool: v2, weight: ${weights[1]} }
  - name: cached
    match: { path: /cached }
    pool: v1
    cache: { ttl: 30s }
`

beforeAll(async () => {
  v1 = await startUpstream('v1')
  v2 = await startUpstream('v2')
  dir = mkdtempSync(join(tmpdir(), 'sy-admin-'))
  file = join(dir, 'gateway.yaml')
  writeFileSync(file, config(v1.url, v2.url))
  gw = await startGateway(
    {
      admin: { token: TOKEN },
      pools: { v1: { backends: [v1.url] }, v2: { backends: [v2.url] } },
      routes: [
        { name: 'web', match: { path: '/web' }, split: [{ pool: 'v1', weight: 80 }, { pool: 'v2', weight: 20 }] },
        { name: 'cached', match: { path: '/cached' }, pool: 'v1', cache: { ttl: '30s' } },
      ],
    },
    { configPath: file },
  )
})

afterAll(async () => {
  await gw?.close()
  await v1?.close()
  await v2?.close()
  rmSync(dir, { recursive: true, force: true })
})

type Json = Record<string, any>

async function call(method: string, path: string, body?: unknown, token: string | null = TOKEN, raw?: string): Promise<{ status: number; json: Json; headers: Record<string, unknown> }> {
  const headers: Record<string, string> = {}
  if (token !== null) headers.authorization = `Bearer ${token}`
  if (body !== undefined || raw !== undefined) headers['content-type'] = 'application/json'
  const res = await request(`${gw.adminUrl}${path}`, { method: method as 'GET', headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) })
  const text = await res.body.text()
  const json = String(res.headers['content-type']).startsWith('application/json') ? (JSON.parse(text) as Json) : { text }
  return { status: res.statusCode, json, headers: res.headers }
}

const audits = (action: string): Json[] => gw.logs.filter((l) => l.type === 'audit' && l.action === action)

const ENDPOINTS: [string, string, unknown?][] = [
  ['GET', '/metrics'],
  ['GET', '/api/pools'],
  ['GET', '/api/routes'],
  ['GET', '/api/stats'],
  ['PUT', '/api/routes/web/split', { weights: { v1: 1, v2: 99 } }],
  ['POST', '/api/cache/purge', {}],
  ['POST', '/api/reload'],
  ['POST', '/api/explain', { method: 'GET', host: 'h', path: '/web' }],
]

describe('admin token', () => {
  it('every call but GET /health and the dashboard shell needs the bearer token', async () => {
    const actionsBefore = gw.logs.filter((l) => l.type === 'audit').length
    for (const [method, path, body] of ENDPOINTS) {
      for (const token of [null, 'wrong-token', '']) {
        const res = await call(method, path, body, token)
        expect(res.status, `${method} ${path} with ${token === null ? 'no' : JSON.stringify(token)} token`).toBe(401)
        expect(res.json).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'missing or invalid admin token', code: 'SWITCHYARD_UNAUTHORIZED' })
        expect(res.headers['www-authenticate']).toBe('Bearer realm="switchyard-admin"')
      }
    }
    // Refused calls change nothing and audit nothing.
    expect((await call('GET', '/api/routes')).json.find((r: Json) => r.name === 'web').split).toEqual([
      { pool: 'v1', weight: 80 },
      { pool: 'v2', weight: 20 },
    ])
    expect(gw.logs.filter((l) => l.type === 'audit').length).toBe(actionsBefore)
    expect((await call('GET', '/health', undefined, null)).status).toBe(200)
    const shell = await request(`${gw.adminUrl}/`)
    expect(shell.statusCode).toBe(200)
    expect(await shell.body.text()).not.toMatch(/v1|v2|127\.0\.0\.1/)
  })

  it('with the token every call answers', async () => {
    for (const [method, path, body] of ENDPOINTS.filter(([m]) => m === 'GET')) expect((await call(method, path, body)).status, path).toBe(200)
  })
})

describe('admin input validation', () => {
  it('unknown endpoints and routes are 404 JSON', async () => {
    expect(await call('GET', '/api/nothing')).toMatchObject({ status: 404, json: { statusCode: 404, error: 'Not Found' } })
    const r = await call('PUT', '/api/routes/nope/split', { weights: { v1: 1 } })
    expect(r.status).toBe(404)
    expect(r.json).toMatchObject({ statusCode: 404, error: 'Not Found', message: 'unknown route "nope"' })
  })

  it.each<[string, string, unknown, RegExp]>([
    ['PUT', '/api/routes/web/split', {}, /weights/],
    ['PUT', '/api/routes/web/split', { weights: {} }, /fewer than 1|minProperties|at least/i],
    ['PUT', '/api/routes/web/split', { weights: { v1: '70' } }, /integer/],
    ['PUT', '/api/routes/web/split', { weights: { v1: -1 } }, />= 0|minimum/],
    ['PUT', '/api/routes/web/split', { weights: { v1: 1.5 } }, /integer/],
    ['PUT', '/api/routes/web/split', { weights: { v1: 1 }, extra: true }, /additional/],
    ['PUT', '/api/routes/web/split', { weights: { v3: 10 } }, /no pool "v3"/],
    ['PUT', '/api/routes/web/split', { weights: { v1: 0, v2: 0 } }, /all be zero/],
    ['POST', '/api/cache/purge', { prefix: 'no-slash' }, /pattern|prefix/],
    ['POST', '/api/cache/purge', { tag: 7 }, /string/],
    ['POST', '/api/cache/purge', { prefix: '/a', tag: 'b' }, /more than 1|maxProperties/i],
    ['POST', '/api/explain', { method: 'GET', path: '/' }, /host/],
    ['POST', '/api/explain', { method: 'GE T', host: 'h', path: '/' }, /pattern|method/],
  ])('%s %s %j → 400 naming the problem', async (method, path, body, message) => {
    const res = await call(method, path, body)
    expect(res.status).toBe(400)
    expect(res.json).toMatchObject({ statusCode: 400, error: 'Bad Request' })
    expect(res.json.message).toMatch(message)
  })

  it('malformed JSON is a 400 JSON answer, not a 500', async () => {
    for (const path of ['/api/routes/web/split', '/api/explain', '/api/cache/purge']) {
      const res = await call(path.includes('split') ? 'PUT' : 'POST', path, undefined, TOKEN, '{"weights":')
      expect(res.status, path).toBe(400)
      expect(res.json).toMatchObject({ statusCode: 400, error: 'Bad Request' })
    }
  })

  it('a refused change leaves the running weights alone', async () => {
    await call('PUT', '/api/routes/web/split', { weights: { v1: 5, v3: 5 } })
    expect((await call('GET', '/api/routes')).json.find((r: Json) => r.name === 'web').split).toEqual([
      { pool: 'v1', weight: 80 },
      { pool: 'v2', weight: 20 },
    ])
  })
})

describe('audit log', () => {
  it('a weight change logs who-what: route, before and after', async () => {
    const res = await call('PUT', '/api/routes/web/split', { weights: { v1: 50, v2: 50 } })
    expect(res.status).toBe(200)
    const line = audits('route.split').at(-1)
    expect(line).toMatchObject({
      type: 'audit',
      action: 'route.split',
      route: 'web',
      before: [
        { pool: 'v1', weight: 80 },
        { pool: 'v2', weight: 20 },
      ],
      after: [
        { pool: 'v1', weight: 50 },
        { pool: 'v2', weight: 50 },
      ],
    })
  })

  it('a purge logs what was purged and how many entries', async () => {
    const fill = await request(`${gw.url}/cached/a`)
    await fill.body.dump()
    const res = await call('POST', '/api/cache/purge', { prefix: '/cached' })
    expect(res.status).toBe(200)
    expect(res.json).toEqual({ purged: 1 })
    expect(audits('cache.purge').at(-1)).toMatchObject({ action: 'cache.purge', prefix: '/cached', purged: 1 })
  })

  it('an applied reload and a refused reload each log a line; a refused one keeps serving', async () => {
    const before = audits('reload').length
    writeFileSync(file, config(v1.url, v2.url, [30, 70]))
    const ok = await call('POST', '/api/reload')
    expect(ok.status).toBe(200)
    expect(ok.json).toMatchObject({ reloaded: true })
    expect((await call('GET', '/api/routes')).json.find((r: Json) => r.name === 'web').split).toEqual([
      { pool: 'v1', weight: 30 },
      { pool: 'v2', weight: 70 },
    ])

    writeFileSync(file, config(v1.url, v2.url).replace('pool: v1\n    cache', 'pool: v9\n    cache'))
    const bad = await call('POST', '/api/reload')
    expect(bad.status).toBe(400)
    expect(bad.json).toMatchObject({ statusCode: 400, error: 'Bad Request', reloaded: false })
    expect(bad.json.errors.join('\n')).toMatch(/routes\[1\]\.pool: .*v9/)
    const res = await request(`${gw.url}/web`)
    expect(res.statusCode).toBe(200)
    await res.body.dump()

    const lines = audits('reload').slice(before)
    expect(lines.map((l) => l.ok)).toEqual(expect.arrayContaining([true, false]))
    expect(lines.filter((l) => l.ok === false).length).toBeGreaterThanOrEqual(1)
    expect(gw.reloadHistory[0]).toMatchObject({ ok: false })
    expect(gw.reloadHistory[1]).toMatchObject({ ok: true })
  })
})
