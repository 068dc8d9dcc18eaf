/**
 * The request series a dashboard needs: requests by route, pool, status and method; duration by
 * route, pool and status class; bytes both ways; client connections by listener; build info.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Agent, request } from 'undici'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { scrape, valueOf } from './scrape.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
})

describe('request series', () => {
  it('requests_total has route, pool, status and method; duration has route, pool and status class', async () => {
    up = await startUpstream('a')
    gw = await startGateway({ pools: { p: { backends: [up.url] } }, routes: [{ name: 'r', match: { path: '/api' }, pool: 'p' }] })
    await (await request(`${gw.url}/api/x`)).body.text()
    await (await request(`${gw.url}/api/x`, { method: 'POST', body: 'hi' })).body.text()
    await (await request(`${gw.url}/nope`)).body.text()
    const text = await scrape(gw.adminUrl!)
    expect(valueOf(text, 'switchyard_requests_total', { route: 'r', pool: 'p', status: '200', method: 'GET' })).toBe(1)
    expect(valueOf(text, 'switchyard_requests_total', { route: 'r', pool: 'p', status: '200', method: 'POST' })).toBe(1)
    expect(valueOf(text, 'switchyard_requests_total', { route: '-', pool: '-', status: '404', method: 'GET' })).toBe(1)
    expect(valueOf(text, 'switchyard_request_duration_seconds_count', { route: 'r', pool: 'p', class: '2xx' })).toBe(2)
    expect(valueOf(text, 'switchyard_request_duration_seconds_count', { route: '-', pool: '-', class: '4xx' })).toBe(1)
  })

  it('build_info names the Switchyard version and the Node that runs it', async () => {
    gw = await startGateway({ pools: { p: { backends: ['http://127.0.0.1:9'] } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] })
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string }
    expect(valueOf(await scrape(gw.adminUrl!), 'switchyard_build_info', { version, node: process.version })).toBe(1)
  })

  it('counts request and response bytes on the wire, by route', async () => {
    up = await startUpstream('a')
    gw = await startGateway({ pools: { p: { backends: [up.url] } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] })
    const body = 'x'.repeat(5000)
    const res = await request(`${gw.url}/upload`, { method: 'POST', body })
    const answer = await res.body.text()
    const text = await scrape(gw.adminUrl!)
    // At least the body each way; the request line and headers come on top.
    expect(valueOf(text, 'switchyard_request_bytes_total', { route: 'r' })).toBeGreaterThan(5000)
    expect(valueOf(text, 'switchyard_response_bytes_total', { route: 'r' })).toBeGreaterThan(answer.length)
  })

  it('counts client connections by listener, and those open now', async () => {
    up = await startUpstream('a')
    gw = await startGateway({ pools: { p: { backends: [up.url] } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] })
    const agents = [new Agent(), new Agent()]
    for (const dispatcher of agents) await (await request(`${gw.url}/x`, { dispatcher })).body.text()
    let text = await scrape(gw.adminUrl!)
    expect(valueOf(text, 'switchyard_client_connections_total', { listener: 'http' })).toBe(2)
    expect(valueOf(text, 'switchyard_client_connections', { listener: 'http' })).toBe(2)
    await Promise.all(agents.map((a) => a.close()))
    for (let i = 0; i < 50 && valueOf(text, 'switchyard_client_connections', { listener: 'http' }) !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20))
      text = await scrape(gw.adminUrl!)
    }
    expect(valueOf(text, 'switchyard_client_connections', { listener: 'http' })).toBe(0)
  })
})
