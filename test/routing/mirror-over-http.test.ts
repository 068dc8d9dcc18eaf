import { Readable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { echoHandler, freePort, startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { MAX_SHADOWS_IN_FLIGHT } from '../../src/proxy/mirror.js'
import { inBatches, send } from './http-client.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
let release: (() => void) | undefined
afterEach(async () => {
  release?.()
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  gw = undefined
  ups = []
  release = undefined
})

async function setup(mirror: Record<string, unknown>, shadowUrl?: string): Promise<{ primary: TestUpstream; shadow: TestUpstream; gw: StartedGateway }> {
  const primary = await startUpstream('primary')
  const shadow = await startUpstream('shadow')
  ups = [primary, shadow]
  gw = await startGateway({
    pools: { main: { backends: [primary.url] }, shadow: { backends: [shadowUrl ?? shadow.url], timeouts: { response: '10s' } } },
    routes: [{ name: 'users', match: { path: '/api' }, pool: 'main', mirror: { pool: 'shadow', ...mirror } }],
  })
  return { primary, shadow, gw }
}

async function metricsText(g: StartedGateway): Promise<string> {
  return (await send(`${g.adminUrl}/metrics`)).body
}

describe('shadow traffic (mirror) over HTTP', () => {
  it('sends a copy with method, path, query, headers and body to the shadow pool, marked as a mirror', async () => {
    const { primary, shadow, gw } = await setup({ percent: 100 })
    const res = await send(`${gw.url}/api/orders?x=1`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tenant': 'acme' }, body: '{"n":1}' })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body).upstream).toBe('primary')
    await waitFor(() => shadow.requests.length === 1, 5000, 10, 'the shadow copy')
    const copy = shadow.requests[0]!
    expect(copy).toMatchObject({ method: 'POST', url: '/api/orders?x=1' })
    expect(copy.body.toString()).toBe('{"n":1}')
    expect(copy.headers['x-tenant']).toBe('acme')
    expect(copy.headers['x-switchyard-mirror']).toBe('1')
    expect(copy.headers['x-request-id']).toBe(primary.requests[0]!.headers['x-request-id'])
    expect(primary.requests[0]!.headers['x-switchyard-mirror']).toBeUndefined()
    await waitFor(async () => /switchyard_mirror_requests_total\{route="users",pool="shadow",status="200"\} 1/.test(await metricsText(gw)), 5000, 20, 'mirror metric')
    expect(await metricsText(gw)).toMatch(/switchyard_mirror_duration_seconds_count\{route="users",pool="shadow"\} 1/)
  })

  it('answers the client while the shadow is still holding its copy unanswered', async () => {
    const { shadow, gw } = await setup({ percent: 100 })
    const held = new Promise<void>((r) => (release = r))
    shadow.setHandler(async (req, res, body) => {
      await held
      echoHandler('shadow')(req, res, body)
    })
    for (let i = 0; i < 5; i++) {
      const res = await send(`${gw.url}/api/slow-shadow`)
      expect(res.status).toBe(200)
      expect(JSON.parse(res.body).upstream).toBe('primary')
    }
    // Every copy has reached the shadow and none has been answered: the client never waited for one.
    await waitFor(() => shadow.requests.length === 5, 5000, 10, 'the held copies')
    expect(await metricsText(gw)).not.toMatch(/switchyard_mirror_requests_total\{/)
    release!()
    await waitFor(async () => /switchyard_mirror_requests_total\{route="users",pool="shadow",status="200"\} 5/.test(await metricsText(gw)), 5000, 20, 'released copies')
  })

  it('does not hold up gateway shutdown for copies the shadow has not answered', async () => {
    const { shadow, gw: g } = await setup({ percent: 100 })
    const held = new Promise<void>((r) => (release = r))
    shadow.setHandler(async (req, res, body) => {
      await held
      echoHandler('shadow')(req, res, body)
    })
    expect((await send(`${g.url}/api/x`)).status).toBe(200)
    await waitFor(() => shadow.requests.length === 1, 5000, 10, 'the held copy')
    // The shadow pool's response timeout is 10 s: a shutdown waiting for the copy would lose this race.
    let timer: NodeJS.Timeout | undefined
    const outcome = await Promise.race([g.close().then(() => 'closed'), new Promise<string>((r) => (timer = setTimeout(() => r('still waiting'), 5000)))])
    clearTimeout(timer)
    expect(outcome).toBe('closed')
  })

  it('skips copies beyond the in-flight cap instead of piling them up on a stalled shadow', async () => {
    const { shadow, gw: g } = await setup({ percent: 100 })
    const held = new Promise<void>((r) => (release = r))
    shadow.setHandler(async (req, res, body) => {
      await held
      echoHandler('shadow')(req, res, body)
    })
    const extra = 10
    const answers = await inBatches(MAX_SHADOWS_IN_FLIGHT + extra, 16, () => send(`${g.url}/api/stalled`))
    expect(answers.every((a) => a.status === 200)).toBe(true)
    expect(await metricsText(g)).toMatch(new RegExp(`switchyard_mirror_skipped_total\\{route="users",reason="overloaded"\\} ${extra}\\b`))
    release!()
    await waitFor(async () => new RegExp(`status="200"\\} ${MAX_SHADOWS_IN_FLIGHT}\\b`).test(await metricsText(g)), 10000, 50, 'held copies answered')
    expect(shadow.requests).toHaveLength(MAX_SHADOWS_IN_FLIGHT)
  })

  it('never fails the primary when the shadow answers 500 or drops the connection', async () => {
    const { shadow, gw } = await setup({ percent: 100 })
    shadow.setHandler((_req, res) => {
      res.writeHead(500).end('boom')
    })
    for (let i = 0; i < 3; i++) expect((await send(`${gw.url}/api/a`)).status).toBe(200)
    await waitFor(async () => /switchyard_mirror_requests_total\{route="users",pool="shadow",status="500"\} 3/.test(await metricsText(gw)), 5000, 20, '500s counted')
    shadow.setHandler((req) => {
      req.socket.destroy()
    })
    for (let i = 0; i < 3; i++) expect((await send(`${gw.url}/api/b`)).status).toBe(200)
    await waitFor(async () => /switchyard_mirror_requests_total\{route="users",pool="shadow",status="error"\} [1-9]/.test(await metricsText(gw)), 5000, 20, 'errors counted')
  })

  it('never fails the primary when the shadow pool cannot be reached', async () => {
    const port = await freePort()
    const { gw } = await setup({ percent: 100 }, `http://127.0.0.1:${port}`)
    for (let i = 0; i < 4; i++) {
      const res = await send(`${gw.url}/api/c`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'hello' })
      expect(res.status).toBe(200)
      expect(JSON.parse(res.body)).toMatchObject({ upstream: 'primary', body: 'hello' })
    }
    await waitFor(async () => /switchyard_mirror_(requests_total\{[^}]*status="error"\}|skipped_total\{[^}]*reason="no-backend"\}) [1-9]/.test(await metricsText(gw)), 5000, 20, 'failures counted')
  })

  it('does not mirror bodies above maxBodySize, nor streamed bodies, and still serves them', async () => {
    const { primary, shadow, gw } = await setup({ percent: 100, maxBodySize: 100 })
    const big = 'x'.repeat(1000)
    const res = await send(`${gw.url}/api/upload`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: big })
    expect(JSON.parse(res.body)).toMatchObject({ upstream: 'primary', body: big })
    const small = await send(`${gw.url}/api/upload`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'tiny' })
    expect(small.status).toBe(200)
    await waitFor(() => shadow.requests.length === 1, 5000, 10, 'the small copy')
    expect(shadow.requests[0]!.body.toString()).toBe('tiny')
    // A chunked body is streamed to the primary (read once), so it cannot be copied.
    const streamed = await send(`${gw.url}/api/upload`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: Readable.from([Buffer.from('ab'), Buffer.from('cd')]) })
    expect(JSON.parse(streamed.body)).toMatchObject({ upstream: 'primary', body: 'abcd' })
    expect(primary.requests).toHaveLength(3)
    const text = await metricsText(gw)
    expect(text).toMatch(/switchyard_mirror_skipped_total\{route="users",reason="body-too-large"\} 1/)
    expect(text).toMatch(/switchyard_mirror_skipped_total\{route="users",reason="body-streamed"\} 1/)
    expect(shadow.requests).toHaveLength(1)
  })

  it('mirrors cache misses but not cache hits on a cached route', async () => {
    const primary = await startUpstream('primary')
    const shadow = await startUpstream('shadow')
    ups = [primary, shadow]
    gw = await startGateway({
      pools: { main: { backends: [primary.url] }, shadow: { backends: [shadow.url] } },
      routes: [{ name: 'users', match: { path: '/api' }, pool: 'main', cache: { ttl: '30s' }, mirror: { pool: 'shadow' } }],
    })
    for (let i = 0; i < 3; i++) expect((await send(`${gw.url}/api/cached`)).status).toBe(200)
    expect(primary.requests).toHaveLength(1)
    await waitFor(async () => /switchyard_mirror_requests_total\{route="users",pool="shadow",status="200"\} 1\b/.test(await metricsText(gw!)), 5000, 20, 'the one copy')
    expect(shadow.requests).toHaveLength(1)
  })

  it('copies about the configured share of requests', async () => {
    const { shadow, gw } = await setup({ percent: 25 })
    const n = 400
    await inBatches(n, 16, async () => expect((await send(`${gw.url}/api/share`)).status).toBe(200))
    // Wait until every launched copy has finished: the counter equals what the shadow saw, and
    // stays so between two polls.
    let copies = -1
    await waitFor(
      async () => {
        const m = /switchyard_mirror_requests_total\{route="users",pool="shadow",status="200"\} (\d+)/.exec(await metricsText(gw))
        const now = m ? Number(m[1]) : 0
        const settled = now === copies && now === shadow.requests.length
        copies = now
        return settled
      },
      5000,
      50,
      'copies settled',
    )
    expect(Math.abs(copies / n - 0.25)).toBeLessThan(5 * Math.sqrt((0.25 * 0.75) / n))
  })
})
