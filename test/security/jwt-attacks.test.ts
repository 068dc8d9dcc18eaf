/**
 * JWT attacks over real sockets: every refused request gets the right status and
 * WWW-Authenticate, and the upstream receives nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { StartedGateway } from '../helpers/gateway.js'
import type { TestUpstream } from '../helpers/upstream.js'
import { Resources, send } from './harness.js'
import { b64url, handSignedHmac, hs256, nowSec, rsaKeyPair, SECRET, tempFile, unsigned, type TestKeyPair } from './tokens.js'

const res = new Resources()
afterAll(() => res.closeAll())

const ISS = 'https://auth.example.com'
const AUD = 'api'

describe('HS256 gateway: tokens that must not pass', () => {
  let gw: StartedGateway
  let up: TestUpstream
  beforeAll(async () => {
    up = await res.upstream()
    gw = await res.gateway({
      jwt: { algorithms: ['HS256'], secret: SECRET, issuer: ISS, audience: AUD, clockTolerance: '2s' },
      pools: { main: { backends: [up.url] } },
      routes: [
        { name: 'users', match: { path: '/api/users' }, pool: 'main', jwt: { claims: { scope: 'users:read' }, forwardClaims: { sub: 'x-user-id', tenant: 'x-tenant' } } },
        { name: 'optional', match: { path: '/api/public' }, pool: 'main', jwt: { required: false, forwardClaims: { sub: 'x-user-id' } } },
        { name: 'open', match: { path: '/' }, pool: 'main' },
      ],
    })
  })
  afterEach(() => {
    up.requests.length = 0
  })

  const good = (over: Record<string, unknown> = {}): string => hs256({ sub: 'alice', tenant: 'acme', scope: 'openid users:read', iss: ISS, aud: AUD, exp: nowSec() + 300, ...over })
  const call = (token: string | undefined, path = '/api/users/7', headers: Record<string, string> = {}) =>
    send(`${gw.url}${path}`, { headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers } })

  async function expect401(token: string | undefined, path = '/api/users/7'): Promise<void> {
    const r = await call(token, path)
    expect(r.status).toBe(401)
    expect(r.headers['www-authenticate']).toBe('Bearer error="invalid_token"')
    expect(r.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' })
    expect(String(r.body?.message)).not.toContain(token ?? '\u0000')
    expect(up.requests).toHaveLength(0)
  }

  it('admits a valid token and forwards its claims', async () => {
    const r = await call(good())
    expect(r.status).toBe(200)
    expect(up.requests).toHaveLength(1)
    expect(up.requests[0]!.headers['x-user-id']).toBe('alice')
    expect(up.requests[0]!.headers['x-tenant']).toBe('acme')
  })

  it('refuses a missing token, alg none and an unsigned token', async () => {
    await expect401(undefined)
    await expect401(unsigned({ sub: 'admin', scope: 'users:read', iss: ISS, aud: AUD }))
    await expect401(`${unsigned({ sub: 'admin', scope: 'users:read', iss: ISS, aud: AUD }, 'HS256')}`)
  })

  it('refuses expired and not-yet-valid tokens beyond the clock tolerance', async () => {
    await expect401(good({ exp: nowSec() - 30 }))
    await expect401(good({ nbf: nowSec() + 30 }))
    // Within the 2 s tolerance both pass.
    expect((await call(good({ nbf: nowSec() + 1 }))).status).toBe(200)
  })

  it('refuses a wrong or missing issuer or audience', async () => {
    await expect401(good({ iss: 'https://evil.example.com' }))
    await expect401(good({ aud: 'other-api' }))
    await expect401(good({ iss: undefined }))
    await expect401(good({ aud: undefined }))
  })

  it('refuses a tampered payload, a forged signature and garbage', async () => {
    const [h, , s] = good().split('.')
    await expect401(`${h}.${b64url({ sub: 'admin', scope: 'users:read', iss: ISS, aud: AUD })}.${s}`)
    await expect401(hs256({ sub: 'alice', scope: 'users:read', iss: ISS, aud: AUD }, 'guessed-secret-guessed-secret-guessed!'))
    await expect401('not-a-jwt')
    await expect401('a.b.c.d.e')
  })

  it('refuses an oversized token without decoding it', async () => {
    await expect401(good({ pad: 'x'.repeat(9000) }))
  })

  it('answers 403 insufficient_scope for a valid token without the required claim', async () => {
    for (const scope of ['users:write', 'users:readonly', undefined]) {
      const r = await call(good({ scope }))
      expect(r.status).toBe(403)
      expect(r.headers['www-authenticate']).toBe('Bearer error="insufficient_scope"')
      expect(r.body).toMatchObject({ statusCode: 403, error: 'Forbidden', message: 'token lacks required claim "scope"' })
    }
    expect(up.requests).toHaveLength(0)
  })

  it('replaces a client-sent copy of a forwarded-claim header, also through Connection tricks', async () => {
    const r = await call(good(), '/api/users/7', { 'x-user-id': 'root', 'x-tenant': 'evil' })
    expect(r.status).toBe(200)
    const r2 = await call(good(), '/api/users/7', { 'x-user-id': 'root', connection: 'x-user-id, x-tenant' })
    expect(r2.status).toBe(200)
    expect(up.requests.map((q) => q.headers['x-user-id'])).toEqual(['alice', 'alice'])
    expect(up.requests.map((q) => q.headers['x-tenant'])).toEqual(['acme', 'acme'])
  })

  it('required: false admits anonymous requests without a client-set claim header, but refuses bad tokens', async () => {
    const anon = await call(undefined, '/api/public', { 'x-user-id': 'root' })
    expect(anon.status).toBe(200)
    expect(up.requests[0]!.headers['x-user-id']).toBeUndefined()
    const withToken = await call(good(), '/api/public')
    expect(withToken.status).toBe(200)
    expect(up.requests[1]!.headers['x-user-id']).toBe('alice')
    up.requests.length = 0
    await expect401(good({ exp: nowSec() - 60 }), '/api/public')
    await expect401(unsigned({ sub: 'admin' }), '/api/public')
  })

  it('counts refusals by route and code', async () => {
    await call(unsigned({ sub: 'x' }))
    const text = await gw.metrics.registry.metrics()
    expect(text).toMatch(/switchyard_jwt_rejected_total\{route="users",code="SWITCHYARD_JWT_INVALID"\} [1-9]/)
  })
})

describe('RS256 gateway with a public key: algorithm confusion', () => {
  let gw: StartedGateway
  let up: TestUpstream
  let kp: TestKeyPair
  beforeAll(async () => {
    kp = rsaKeyPair('k1')
    up = await res.upstream()
    gw = await res.gateway({
      jwt: { algorithms: ['RS256'], publicKey: tempFile('jwt.pem', kp.publicPem) },
      pools: { main: { backends: [up.url] } },
      routes: [{ name: 'users', match: { path: '/' }, pool: 'main', jwt: true }],
    })
  })

  it('accepts RS256 tokens and refuses HS256 tokens keyed with the public key', async () => {
    const ok = await send(`${gw.url}/x`, { headers: { authorization: `Bearer ${kp.sign({ sub: 'u1' })}` } })
    expect(ok.status).toBe(200)
    expect(up.requests).toHaveLength(1)
    for (const secret of [kp.publicPem, kp.publicPem.trim(), JSON.stringify(kp.jwk)]) {
      const forged = handSignedHmac({ alg: 'HS256', typ: 'JWT' }, { sub: 'admin' }, secret)
      const r = await send(`${gw.url}/x`, { headers: { authorization: `Bearer ${forged}` } })
      expect(r.status).toBe(401)
      expect(r.headers['www-authenticate']).toBe('Bearer error="invalid_token"')
    }
    expect(up.requests).toHaveLength(1)
  })
})
