import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
})

describe('IPv4-mapped IPv6 spellings from a trusted proxy', () => {
  it('share one rate-limit bucket and one logged client address', async () => {
    up = await startUpstream('a')
    gw = await startGateway(simpleConfig([up.url], { route: { rateLimit: { max: 2, window: '1m', key: 'ip' } }, top: { server: { trustedProxies: ['127.0.0.1'] } } }))
    const statuses: number[] = []
    for (const xff of ['1.2.3.4', '::ffff:1.2.3.4', '0:0:0:0:0:ffff:102:304']) {
      const res = await request(`${gw.url}/x`, { headers: { 'x-forwarded-for': xff } })
      await res.body.dump()
      statuses.push(res.statusCode)
    }
    expect(statuses).toEqual([200, 200, 429])
    const clients = gw.logs.filter((l) => l.type === 'access').map((l) => l.client)
    expect(new Set(clients)).toEqual(new Set(['1.2.3.4']))
  })
})
