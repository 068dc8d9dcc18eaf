/**
 * A gateway verifying against a real local JWKS server: key rotation, a flood of unknown kids
 * (which must not turn into a flood of key-server requests), a key-server outage (last good keys
 * keep serving), and tokens whose jku/x5u/jwk point at an attacker's keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StartedGateway } from '../helpers/gateway.js'
import { waitFor, type TestUpstream } from '../helpers/upstream.js'
import { Resources, send } from './harness.js'
import { startKeyServer, type KeyServer } from './key-server.js'
import { rsaKeyPair, type TestKeyPair } from './tokens.js'

const res = new Resources()
afterAll(() => res.closeAll())

let idp: KeyServer
let attacker: KeyServer
let up: TestUpstream
let gw: StartedGateway
let k1: TestKeyPair
let k2: TestKeyPair

beforeAll(async () => {
  k1 = rsaKeyPair('k1')
  k2 = rsaKeyPair('k2')
  idp = await startKeyServer()
  res.add(() => idp.close(), undefined)
  attacker = await startKeyServer()
  res.add(() => attacker.close(), undefined)
  idp.serve({ keys: [k1.jwk] })
  up = await res.upstream()
  gw = await res.gateway({
    jwt: { algorithms: ['RS256'], jwksUrl: idp.url, issuer: 'https://idp.test' },
    pools: { main: { backends: [up.url] } },
    routes: [{ name: 'api', match: { path: '/' }, pool: 'main', jwt: { forwardClaims: { sub: 'x-user-id' } } }],
  })
})

const call = (token: string) => send(`${gw.url}/r`, { headers: { authorization: `Bearer ${token}` } })
const claims = (sub: string) => ({ sub, iss: 'https://idp.test', exp: Math.floor(Date.now() / 1000) + 300 })

describe('JWKS through the gateway', () => {
  it('warms the key set at startup and verifies by kid', async () => {
    await waitFor(() => idp.hits >= 1, 2000, 10, 'startup key fetch')
    const r = await call(k1.sign(claims('alice')))
    expect(r.status).toBe(200)
    expect(up.requests.at(-1)!.headers['x-user-id']).toBe('alice')
    expect(idp.hits).toBe(1)
  })

  it('follows a key rotation with one refetch', async () => {
    idp.serve({ keys: [k2.jwk] })
    const r = await call(k2.sign(claims('bob')))
    expect(r.status).toBe(200)
    expect(up.requests.at(-1)!.headers['x-user-id']).toBe('bob')
    expect(idp.hits).toBe(2)
    // The retired key is gone with the new set.
    const old = await call(k1.sign(claims('alice')))
    expect(old.status).toBe(401)
    expect(old.headers['www-authenticate']).toBe('Bearer error="invalid_token"')
  })

  it('does not let a flood of unknown kids hammer the key server', async () => {
    const before = up.requests.length
    const mallory = rsaKeyPair('m')
    for (let i = 0; i < 40; i++) {
      const forged = mallory.sign(claims('mallory'), { kid: `random-${i}` })
      expect((await call(forged)).status).toBe(401)
    }
    expect(idp.hits).toBe(2)
    expect(up.requests.length).toBe(before)
  })

  it('ignores jku, x5u and jwk header parameters that point at other keys', async () => {
    const evil = rsaKeyPair('k2') // same kid as the real key, attacker's key material
    attacker.serve({ keys: [evil.jwk] })
    const before = up.requests.length
    for (const header of [{ jku: attacker.url }, { x5u: attacker.url }, { jwk: { kty: 'RSA', n: evil.jwk.n, e: evil.jwk.e } }]) {
      const r = await call(evil.sign({ ...claims('admin'), iss: 'https://idp.test' }, header))
      expect(r.status, JSON.stringify(Object.keys(header))).toBe(401)
    }
    // An issuer claim naming the attacker does not send us there either.
    expect((await call(evil.sign({ ...claims('admin'), iss: attacker.url }))).status).toBe(401)
    expect(attacker.hits).toBe(0)
    expect(up.requests.length).toBe(before)
  })

  it('keeps verifying with the last good keys while the key server is down', async () => {
    await idp.close()
    const r = await call(k2.sign(claims('carol')))
    expect(r.status).toBe(200)
    expect(up.requests.at(-1)!.headers['x-user-id']).toBe('carol')
  })
})
