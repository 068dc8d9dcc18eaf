/**
 * Header values from the request (`${client_ip}`, `${request_id}`, `${host}`, `${path}`,
 * `${claim.NAME}`, `${apikey.name}`) in headers.request.set / response.set, over real sockets:
 * filled per request, client copies of templated request headers dropped, empty values not
 * sent, unsafe characters neutralised, and the loader not mistaking them for ${ENV} variables.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createSigner } from 'fast-jwt'
import { normalizeConfig } from '../../src/config/index.js'
import { apiKeyHash } from '../../src/policies/api-key.js'
import { compileTemplate } from '../../src/policies/header-templates.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const SECRET = 'a-test-secret-of-enough-length-for-hs256!!'
const sign = createSigner({ key: SECRET, algorithm: 'HS256' })

async function setup(): Promise<{ gw: StartedGateway; up: TestUpstream }> {
  const up = await startUpstream('up')
  cleanups.push(() => up.close())
  const gw = await startGateway({
    server: { trustedProxies: ['127.0.0.1'] },
    jwt: { algorithms: ['HS256'], secret: SECRET },
    pools: { main: { backends: [up.url] } },
    routes: [
      {
        name: 'user',
        match: { path: '/user' },
        pool: 'main',
        jwt: { required: false },
        headers: {
          request: { set: { 'x-user': '${claim.sub}', 'x-client': 'ip=${client_ip} id=${request_id}', 'x-where': '${host}${path}', 'x-static': 'plain' } },
          response: { set: { 'x-served-for': '${claim.sub}', 'x-env-literal': '$${NOT_A_VAR}' } },
        },
      },
      {
        name: 'keyed',
        match: { path: '/keyed' },
        pool: 'main',
        apiKey: { keys: [{ name: 'ci', hash: `sha256:${apiKeyHash('k1')}` }] },
        headers: { request: { set: { 'x-consumer': '${apikey.name}' } } },
      },
    ],
  })
  cleanups.push(() => gw.close())
  return { gw, up }
}

describe('header templates', () => {
  it('fills request and response headers from the request, claims and API key', async () => {
    const { gw, up } = await setup()
    const token = sign({ sub: 'user-7' })
    const res = await fetch(`${gw.url}/user/a/../b?q=1`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '203.0.113.5', 'x-request-id': 'req-abc' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-served-for')).toBe('user-7')
    expect(res.headers.get('x-env-literal')).toBe('${NOT_A_VAR}')
    const h = up.requests[0]!.headers
    expect(h['x-user']).toBe('user-7')
    expect(h['x-client']).toBe('ip=203.0.113.5 id=req-abc')
    expect(h['x-where']).toBe(`${new URL(gw.url).host}/user/b`)
    expect(h['x-static']).toBe('plain')
    expect((await fetch(`${gw.url}/keyed`, { headers: { 'x-api-key': 'k1' } })).status).toBe(200)
    expect(up.requests[1]!.headers['x-consumer']).toBe('ci')
  })

  it("drops a client's own copy of a templated header, and sends nothing for an empty value", async () => {
    const { gw, up } = await setup()
    const res = await fetch(`${gw.url}/user`, { headers: { 'x-user': 'admin' } })
    expect(res.status).toBe(200)
    expect(up.requests[0]!.headers['x-user']).toBeUndefined()
    expect(res.headers.get('x-served-for')).toBeNull()
  })

  it('neutralises characters a header cannot carry', async () => {
    const { gw, up } = await setup()
    const token = sign({ sub: 'evil\r\nx-injected: 1 ☃' })
    const res = await fetch(`${gw.url}/user`, { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
    expect(up.requests[0]!.headers['x-user']).toBe('evil??x-injected: 1 ?')
    expect(up.requests[0]!.headers['x-injected']).toBeUndefined()
  })

  it('the loader keeps template names and still substitutes environment variables', () => {
    const s = normalizeConfig(
      { pools: { p: { backends: ['http://127.0.0.1:9'] } }, routes: [{ name: 'r', pool: 'p', headers: { request: { set: { 'x-a': '${GW}:${client_ip}', 'x-b': '${claim.org.id}' } } } }] },
      { env: { GW: 'edge-1' } },
    )
    expect(s.routes[0]!.headers.request.set).toEqual({ 'x-a': 'edge-1:${client_ip}', 'x-b': '${claim.org.id}' })
    const get = compileTemplate('${claim.roles}|${path}')
    expect(get({ headers: {} } as never, { claims: { roles: ['a', 'b'] }, path: '/p' } as never)).toBe('a b|/p')
  })
})
