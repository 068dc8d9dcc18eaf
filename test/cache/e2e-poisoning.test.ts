import { afterEach, describe, expect, it } from 'vitest'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { reply, send } from './e2e-harness.js'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close()
})

async function upstream(name: string): Promise<TestUpstream> {
  const up = await startUpstream(name, (req, res) => reply(res, req, 200, { 'cache-control': 'max-age=600' }, `from ${name}`))
  open.push(up)
  return up
}

describe('cache: request inputs outside the key cannot change what others get', () => {
  it('a client steering to the canary pool with the override header does not put the canary body in front of everyone', async () => {
    const stable = await upstream('stable')
    const canary = await upstream('canary')
    const gw: StartedGateway = await startGateway({
      pools: { stable: { backends: [stable.url] }, canary: { backends: [canary.url] } },
      routes: [
        {
          name: 'site',
          match: { path: '/' },
          split: [
            { pool: 'stable', weight: 1 },
            { pool: 'canary', weight: 0 },
          ],
          override: 'x-switchyard-pool',
          cache: {},
        },
      ],
    })
    open.push(gw)
    expect((await send(gw.url, '/page', { 'x-switchyard-pool': 'canary' })).body).toBe('from canary')
    const everyone = await send(gw.url, '/page')
    expect(everyone.body).toBe('from stable')
    expect(everyone.headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    expect((await send(gw.url, '/page', { 'x-switchyard-pool': 'canary' })).headers['cache-status']).toBe('switchyard; hit')
  })

  it('routes chosen by a request header keep separate entries for the same URL', async () => {
    const acme = await upstream('acme')
    const other = await upstream('other')
    const gw = await startGateway({
      pools: { acme: { backends: [acme.url] }, other: { backends: [other.url] } },
      routes: [
        { name: 'acme', match: { path: '/', headers: { 'x-tenant': 'acme' } }, pool: 'acme', cache: {} },
        { name: 'default', match: { path: '/' }, pool: 'other', cache: {} },
      ],
    })
    open.push(gw)
    expect((await send(gw.url, '/home', { 'x-tenant': 'acme' })).body).toBe('from acme')
    expect((await send(gw.url, '/home')).body).toBe('from other')
    expect((await send(gw.url, '/home', { 'x-tenant': 'acme' })).body).toBe('from acme')
  })
})
