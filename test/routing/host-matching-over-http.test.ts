import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { send } from './http-client.js'

let api: TestUpstream
let tenants: TestUpstream
let gw: StartedGateway

beforeAll(async () => {
  api = await startUpstream('api')
  tenants = await startUpstream('tenants')
  gw = await startGateway({
    admin: false,
    pools: { api: { backends: [api.url] }, tenants: { backends: [tenants.url] } },
    routes: [
      { name: 'api', match: { host: 'api.example.com', path: '/' }, pool: 'api' },
      { name: 'tenants', match: { host: '*.tenants.example.com', methods: ['GET'] }, pool: 'tenants' },
    ],
  })
})
afterAll(async () => {
  await gw?.close()
  await api?.close()
  await tenants?.close()
})

const upstreamOf = (body: string): string => (JSON.parse(body) as { upstream: string }).upstream

describe('host and method matching through the gateway', () => {
  it('matches the Host header case-insensitively and without its port', async () => {
    const r = await send(`${gw.url}/x`, { headers: { host: 'API.Example.COM:8443' } })
    expect(upstreamOf(r.body)).toBe('api')
  })

  it('matches wildcard hosts at any subdomain depth but not the bare domain', async () => {
    expect(upstreamOf((await send(`${gw.url}/`, { headers: { host: 'acme.tenants.example.com' } })).body)).toBe('tenants')
    expect(upstreamOf((await send(`${gw.url}/`, { headers: { host: 'eu.acme.tenants.example.com' } })).body)).toBe('tenants')
    const bare = await send(`${gw.url}/`, { headers: { host: 'tenants.example.com' } })
    expect(bare.status).toBe(404)
    expect(JSON.parse(bare.body)).toMatchObject({ statusCode: 404, error: 'Not Found' })
  })

  it('answers 404 JSON when the method is not among the route methods', async () => {
    const r = await send(`${gw.url}/`, { method: 'DELETE', headers: { host: 'acme.tenants.example.com' } })
    expect(r.status).toBe(404)
    expect(tenants.requests.every((q) => q.method === 'GET')).toBe(true)
  })
})
