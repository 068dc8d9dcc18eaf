/**
 * `X-Forwarded-Prefix` and `passHost` together over real sockets: the client's Host reaches the upstream
 * only where asked; a rewritten prefix is announced upstream, and a client cannot forge it.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup(): Promise<{ gw: StartedGateway; up: TestUpstream }> {
  const up = await startUpstream('up')
  cleanups.push(() => up.close())
  const gw = await startGateway({
    pools: { main: { backends: [up.url] } },
    routes: [
      { name: 'vhost', match: { path: '/vhost' }, pool: 'main', passHost: true },
      { name: 'api', match: { path: '/api/' }, pool: 'main', rewritePrefix: '' },
      { name: 'rest', match: { path: '/' }, pool: 'main' },
    ],
  })
  cleanups.push(() => gw.close())
  return { gw, up }
}

describe('passHost and X-Forwarded-Prefix', () => {
  it("sends the client's Host upstream only with passHost", async () => {
    const { gw, up } = await setup()
    await (await request(`${gw.url}/vhost`, { headers: { host: 'shop.example.com' } })).body.dump()
    await (await request(`${gw.url}/other`, { headers: { host: 'shop.example.com' } })).body.dump()
    expect(up.requests[0]!.headers.host).toBe('shop.example.com')
    expect(up.requests[1]!.headers.host).toBe(new URL(up.url).host)
    expect(up.requests[1]!.headers['x-forwarded-host']).toBe('shop.example.com')
  })

  it('announces a rewritten prefix and drops a forged one', async () => {
    const { gw, up } = await setup()
    await (await request(`${gw.url}/api/users/7`, { headers: { 'x-forwarded-prefix': '/evil' } })).body.dump()
    await (await request(`${gw.url}/other`, { headers: { 'x-forwarded-prefix': '/evil' } })).body.dump()
    expect(up.requests[0]!.url).toBe('/users/7')
    expect(up.requests[0]!.headers['x-forwarded-prefix']).toBe('/api')
    expect(up.requests[1]!.headers['x-forwarded-prefix']).toBeUndefined()
  })
})
