import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
})

describe('route header rules and rewritePrefix', () => {
  it('sets and removes request and response headers per route', async () => {
    up = await startUpstream('a', (_req, res) => {
      res.setHeader('server', 'secret-server/1.0')
      res.setHeader('x-internal', 'yes')
      res.end('ok')
    })
    gw = await startGateway({
      pools: { p: { backends: [up.url] } },
      routes: [
        {
          name: 'r',
          match: { path: '/api' },
          pool: 'p',
          headers: { request: { set: { 'x-gateway': 'switchyard' }, remove: ['x-debug'] }, response: { set: { 'x-frame-options': 'DENY' }, remove: ['server', 'x-internal'] } },
        },
      ],
    })
    const res = await request(`${gw.url}/api/thing`, { headers: { 'x-debug': '1', 'x-gateway': 'client-value' } })
    await res.body.text()
    expect(up.requests[0]!.headers['x-gateway']).toBe('switchyard')
    expect(up.requests[0]!.headers['x-debug']).toBeUndefined()
    expect(res.headers.server).toBeUndefined()
    expect(res.headers['x-internal']).toBeUndefined()
    expect(res.headers['x-frame-options']).toBe('DENY')
  })

  it('replaces the matched prefix with rewritePrefix and keeps the query', async () => {
    up = await startUpstream('a')
    gw = await startGateway({
      pools: { p: { backends: [up.url] } },
      routes: [
        { name: 'users', match: { path: '/api/users' }, pool: 'p', rewritePrefix: '/users' },
        { name: 'strip', match: { path: '/strip' }, pool: 'p', rewritePrefix: '' },
      ],
    })
    await request(`${gw.url}/api/users/7?x=1&y=2`).then((r) => r.body.text())
    await request(`${gw.url}/api/users`).then((r) => r.body.text())
    await request(`${gw.url}/strip/a/b`).then((r) => r.body.text())
    await request(`${gw.url}/strip`).then((r) => r.body.text())
    expect(up.requests.map((r) => r.url)).toEqual(['/users/7?x=1&y=2', '/users', '/a/b', '/'])
  })

  it('answers 404 JSON when no route matches, without calling any upstream', async () => {
    up = await startUpstream('a')
    gw = await startGateway({ pools: { p: { backends: [up.url] } }, routes: [{ name: 'r', match: { path: '/api' }, pool: 'p' }] })
    const res = await request(`${gw.url}/apix`)
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toContain('application/json')
    const body = (await res.body.json()) as Record<string, unknown>
    expect(body).toMatchObject({ statusCode: 404, error: 'Not Found' })
    expect(typeof body.message).toBe('string')
    expect(up.requests).toHaveLength(0)
  })
})
