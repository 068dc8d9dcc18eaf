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

describe('switchyard_requests_in_flight', () => {
  it('returns to zero after requests refused in early hooks (404, 400) and after proxied ones', async () => {
    up = await startUpstream('a')
    gw = await startGateway({ pools: { p: { backends: [up.url] } }, routes: [{ name: 'r', match: { path: '/api' }, pool: 'p' }] })
    for (const path of ['/nope', '/api/%zz', '/api/ok']) await (await request(`${gw.url}${path}`)).body.text()
    const text = await (await request(`${gw.adminUrl}/metrics`)).body.text()
    expect(text).toMatch(/^switchyard_requests_in_flight 0$/m)
  })
})
