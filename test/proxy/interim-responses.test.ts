import http from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

let gw: StartedGateway | undefined
let up: TestUpstream | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
  gw = up = undefined
})

interface Seen {
  interim: { status: number; headers: http.IncomingHttpHeaders }[]
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/** GET with node:http, which reports each 1xx as an 'information' event. */
function get(url: string): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const interim: Seen['interim'] = []
    const req = http.get(url, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ interim, status: res.statusCode!, headers: res.headers, body }))
    })
    req.on('information', (info) => interim.push({ status: info.statusCode, headers: info.headers }))
    req.on('error', reject)
  })
}

const HINTS = { link: '</styles.css>; rel=preload; as=style', 'x-my-header': 'test' }

async function rig(cache: boolean, final: Record<string, string> = {}): Promise<void> {
  up = await startUpstream('origin', (_req, res) => {
    res.writeProcessing()
    res.writeEarlyHints(HINTS)
    res.writeHead(200, { 'content-type': 'text/plain', ...final })
    res.end('final')
  })
  gw = await startGateway({
    pools: { main: { backends: [up.url] } },
    routes: [{ name: 'r', match: { path: '/' }, pool: 'main', ...(cache ? { cache: {} } : {}) }],
  })
}

describe('interim (1xx) responses (RFC 9110 §15.2)', () => {
  it('relays 102 and 103 (with their fields) to the client before the final response', async () => {
    await rig(false)
    const r = await get(`${gw!.url}/x`)
    expect(r.interim.map((i) => i.status)).toEqual([102, 103])
    expect(r.interim[1]!.headers).toMatchObject(HINTS)
    expect(r.status).toBe(200)
    expect(r.body).toBe('final')
    // An interim response's fields are not the final response's.
    expect(r.headers['x-my-header']).toBeUndefined()
  })

  it('on a cached route: relayed on the miss, never cached, absent from the hit (RFC 9111 §3)', async () => {
    await rig(true, { 'cache-control': 'max-age=600' })
    const miss = await get(`${gw!.url}/c`)
    expect(miss.interim.map((i) => i.status)).toEqual([102, 103])
    expect(miss.headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    const hit = await get(`${gw!.url}/c`)
    expect(hit.headers['cache-status']).toBe('switchyard; hit')
    expect(hit.interim).toEqual([])
    expect(hit.headers['x-my-header']).toBeUndefined()
    expect(hit.headers.link).toBeUndefined()
    expect(hit.body).toBe('final')
  })
})
