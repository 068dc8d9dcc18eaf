import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'

let a: TestUpstream | undefined
let b: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await a?.close()
  await b?.close()
})

describe('host matching', () => {
  it('treats a fully qualified host with a trailing dot as the same host (it cannot slip past a host route)', async () => {
    a = await startUpstream('api')
    b = await startUpstream('other')
    gw = await startGateway({
      pools: { api: { backends: [a.url] }, other: { backends: [b.url] } },
      routes: [
        { name: 'api', match: { host: 'api.example.com', path: '/' }, pool: 'api' },
        { name: 'rest', match: { path: '/' }, pool: 'other' },
      ],
    })
    for (const host of ['api.example.com', 'API.example.com.', 'api.example.com.:8080']) {
      const res = await request(`${gw.url}/x`, { headers: { host } })
      expect(res.headers['x-upstream'], host).toBe('api')
      await res.body.text()
    }
  })
})
