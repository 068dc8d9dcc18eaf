/**
 * Several named JWT verifiers (`jwtIssuers`), a route naming the ones it accepts
 * (`jwt.issuers`), and tokens read from a cookie or another header (`jwt.token`), over real
 * sockets: accepted tokens reach the upstream with their claims, others are 401 JSON and never do.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createSigner } from 'fast-jwt'
import { ConfigError, normalizeConfig } from '../../src/config/index.js'
import { compileProblems } from '../../src/check.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const CORP = 'corp-secret-0123456789abcdef0123456789abcdef'
const PARTNER = 'partner-secret-0123456789abcdef0123456789ab'
const DEFAULT = 'default-secret-0123456789abcdef0123456789ab'
const signer = (key: string, iss?: string) => createSigner({ key, algorithm: 'HS256', ...(iss ? { iss } : {}) })

async function setup(): Promise<{ gw: StartedGateway; up: TestUpstream }> {
  const up = await startUpstream('up')
  cleanups.push(() => up.close())
  const gw = await startGateway({
    jwt: { algorithms: ['HS256'], secret: DEFAULT },
    jwtIssuers: {
      corp: { algorithms: ['HS256'], secret: CORP, issuer: 'https://corp.example' },
      partner: { algorithms: ['HS256'], secret: PARTNER, issuer: 'https://partner.example' },
    },
    pools: { main: { backends: [up.url] } },
    routes: [
      { name: 'both', match: { path: '/both' }, pool: 'main', jwt: { issuers: ['corp', 'partner'], forwardClaims: { sub: 'x-sub' } } },
      { name: 'cookie', match: { path: '/cookie' }, pool: 'main', jwt: { issuers: ['corp'], token: 'cookie:session' } },
      { name: 'header', match: { path: '/header' }, pool: 'main', jwt: { token: 'header:x-token' } },
      { name: 'default', match: { path: '/' }, pool: 'main', jwt: true },
    ],
  })
  cleanups.push(() => gw.close())
  return { gw, up }
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` })

describe('several JWT issuers', () => {
  it('a route accepts tokens of each issuer it names, and only those', async () => {
    const { gw, up } = await setup()
    const corp = signer(CORP, 'https://corp.example')({ sub: 'c1' })
    const partner = signer(PARTNER, 'https://partner.example')({ sub: 'p1' })
    const dflt = signer(DEFAULT)({ sub: 'd1' })
    expect((await fetch(`${gw.url}/both`, { headers: bearer(corp) })).status).toBe(200)
    expect((await fetch(`${gw.url}/both`, { headers: bearer(partner) })).status).toBe(200)
    expect(up.requests.map((r) => r.headers['x-sub'])).toEqual(['c1', 'p1'])
    const refused = await fetch(`${gw.url}/both`, { headers: bearer(dflt) })
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"')
    expect(await refused.json()).toMatchObject({ statusCode: 401 })
    // A partner-signed token claiming the corp issuer is checked by corp's verifier, and fails.
    const forged = signer(PARTNER, 'https://corp.example')({ sub: 'x' })
    expect((await fetch(`${gw.url}/both`, { headers: bearer(forged) })).status).toBe(401)
    // The default verifier serves routes that name no issuer.
    expect((await fetch(`${gw.url}/x`, { headers: bearer(dflt) })).status).toBe(200)
    expect((await fetch(`${gw.url}/x`, { headers: bearer(corp) })).status).toBe(401)
    expect(up.requests).toHaveLength(3)
  })

  it('reads the token from a cookie or another header when the route says so', async () => {
    const { gw, up } = await setup()
    const corp = signer(CORP, 'https://corp.example')({ sub: 'c1' })
    expect((await fetch(`${gw.url}/cookie`, { headers: { cookie: `theme=dark; session=${corp}` } })).status).toBe(200)
    expect((await fetch(`${gw.url}/cookie`, { headers: bearer(corp) })).status).toBe(401)
    const dflt = signer(DEFAULT)({ sub: 'd1' })
    expect((await fetch(`${gw.url}/header`, { headers: { 'x-token': dflt } })).status).toBe(200)
    expect((await fetch(`${gw.url}/header`, { headers: { 'x-token': `Bearer ${dflt}` } })).status).toBe(200)
    expect((await fetch(`${gw.url}/header`)).status).toBe(401)
    expect(up.requests).toHaveLength(3)
  })

  it('config: unknown issuer names, "default" without jwt, and bad issuer settings are refused with paths', () => {
    const pools = { p: { backends: ['http://127.0.0.1:9'] } }
    try {
      normalizeConfig({
        jwtIssuers: { corp: { algorithms: ['HS256'] }, default: { algorithms: ['HS256'], secret: 'x' } },
        pools,
        routes: [{ name: 'r', pool: 'p', jwt: { issuers: ['corp', 'nope', 'default'], token: 'query:t' } }],
      })
      expect.unreachable()
    } catch (err) {
      expect((err as ConfigError).problems.map((p) => p.path)).toEqual([
        'jwtIssuers.corp',
        'jwtIssuers.default',
        'routes[0].jwt.issuers[1]',
        'routes[0].jwt.issuers[2]',
        'routes[0].jwt.token',
      ])
    }
    const ok = normalizeConfig({ jwtIssuers: { corp: { algorithms: ['RS256'], publicKey: '/nonexistent.pem' } }, pools, routes: [{ name: 'r', pool: 'p', jwt: { issuers: ['corp'] } }] })
    expect(compileProblems(ok).map((p) => p.path)).toEqual(['jwtIssuers.corp.publicKey'])
  })
})
