/**
 * `apiKey` over real sockets: 401 JSON without a key or with an unknown one (never forwarded),
 * a good key's name as the consumer (access log, rate-limit key `apikey`), the key header kept
 * from the upstream, a key from the query when configured.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError, normalizeConfig } from '../../src/config/index.js'
import { apiKeyHash } from '../../src/policies/api-key.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const CI_KEY = 'sk_ci_2f9a1c7e5b3d4a6f8e0c1b2a3d4e5f6a'
const OPS_KEY = 'sk_ops_9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d'

async function setup(apiKey: Record<string, unknown> = {}, route: Record<string, unknown> = {}): Promise<{ gw: StartedGateway; up: TestUpstream }> {
  const up = await startUpstream('up')
  cleanups.push(() => up.close())
  const gw = await startGateway({
    pools: { main: { backends: [up.url] } },
    routes: [
      {
        name: 'api',
        match: { path: '/api' },
        pool: 'main',
        apiKey: { keys: [{ name: 'ci', hash: `sha256:${apiKeyHash(CI_KEY)}` }, { name: 'ops', hash: `sha256:${apiKeyHash(OPS_KEY).toUpperCase()}` }], ...apiKey },
        ...route,
      },
    ],
  })
  cleanups.push(() => gw.close())
  return { gw, up }
}

describe('API keys', () => {
  it('refuses a request without a key or with an unknown key with 401 JSON, never forwarding it', async () => {
    const { gw, up } = await setup()
    const none = await fetch(`${gw.url}/api/x`)
    expect(none.status).toBe(401)
    expect(await none.json()).toMatchObject({ statusCode: 401, error: 'Unauthorized', message: 'an API key is required' })
    const bad = await fetch(`${gw.url}/api/x`, { headers: { 'x-api-key': 'sk_wrong' } })
    expect(bad.status).toBe(401)
    expect(await bad.json()).toMatchObject({ message: 'the API key is not valid' })
    const huge = await fetch(`${gw.url}/api/x`, { headers: { 'x-api-key': 'k'.repeat(2000) } })
    expect(huge.status).toBe(401)
    expect(up.requests).toHaveLength(0)
  })

  it('forwards a request with a known key, without the key, and logs the key name as consumer', async () => {
    const { gw, up } = await setup()
    const res = await fetch(`${gw.url}/api/x`, { headers: { 'x-api-key': OPS_KEY } })
    expect(res.status).toBe(200)
    expect(up.requests).toHaveLength(1)
    expect(up.requests[0]!.headers['x-api-key']).toBeUndefined()
    const line = await waitFor(() => gw.logs.find((l) => l['msg'] === 'request' && l['path'] === '/api/x'), 2000, 10, 'the access line')
    expect(line?.['consumer']).toBe('ops')
  })

  it('reads the key from another header, or from the query when configured', async () => {
    const { gw, up } = await setup({ header: 'X-Key', query: 'api_key' })
    expect((await fetch(`${gw.url}/api/x`, { headers: { 'x-key': CI_KEY } })).status).toBe(200)
    expect((await fetch(`${gw.url}/api/x?api_key=${CI_KEY}`)).status).toBe(200)
    expect((await fetch(`${gw.url}/api/x`, { headers: { 'x-api-key': CI_KEY } })).status).toBe(401)
    expect(up.requests).toHaveLength(2)
  })

  it('rate-limits per key name with key: apikey', async () => {
    const { gw, up } = await setup({}, { rateLimit: { max: 1, window: '1m', key: 'apikey' } })
    expect((await fetch(`${gw.url}/api/x`, { headers: { 'x-api-key': CI_KEY } })).status).toBe(200)
    const limited = await fetch(`${gw.url}/api/x`, { headers: { 'x-api-key': CI_KEY } })
    expect(limited.status).toBe(429)
    // Another consumer from the same address has its own budget.
    expect((await fetch(`${gw.url}/api/x`, { headers: { 'x-api-key': OPS_KEY } })).status).toBe(200)
    expect(up.requests).toHaveLength(2)
  })

  it('config: hashes must be sha256:<64 hex>, names unique, and key: apikey needs authentication', () => {
    const problems = (route: Record<string, unknown>): string[] => {
      try {
        normalizeConfig({ pools: { p: { backends: ['http://127.0.0.1:9'] } }, routes: [{ name: 'r', pool: 'p', ...route }] })
        return []
      } catch (err) {
        return (err as ConfigError).problems.map((p) => p.path)
      }
    }
    expect(problems({ apiKey: { keys: [{ name: 'a', hash: 'plain-key' }] } })).toEqual(['routes[0].apiKey.keys[0].hash'])
    const h = `sha256:${apiKeyHash('x')}`
    expect(problems({ apiKey: { keys: [{ name: 'a', hash: h }, { name: 'a', hash: `sha256:${apiKeyHash('y')}` }] } })).toEqual(['routes[0].apiKey.keys[1].name'])
    expect(problems({ rateLimit: { max: 1, window: '1s', key: 'apikey' } })).toEqual(['routes[0].rateLimit.key'])
    expect(problems({ sticky: 'apikey' })).toEqual(['routes[0].sticky'])
  })
})
