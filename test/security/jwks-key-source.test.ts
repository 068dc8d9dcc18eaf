/**
 * The JWKS key source against a real local key server (node:http) serving keys generated with
 * node:crypto. The refetch interval is a time-based state machine, so the clock is injected.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createJwksKeySource, type JwksKeySource } from '../../src/auth/jwks.js'
import { compileJwtVerifier, type JwtVerifier } from '../../src/auth/jwt-verifier.js'
import { waitFor } from '../helpers/upstream.js'
import { startKeyServer, type KeyServer } from './key-server.js'
import { ecKeyPair, rsaKeyPair } from './tokens.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function setup(opts: { minRefetchInterval?: number; timeout?: number; maxBytes?: number; maxAge?: number } = {}): Promise<{
  ks: KeyServer
  clock: { t: number }
  source: JwksKeySource
  errors: Error[]
}> {
  const ks = await startKeyServer()
  cleanups.push(() => ks.close())
  const clock = { t: 1_000_000 }
  const errors: Error[] = []
  const source = createJwksKeySource({
    url: ks.url,
    allowedAlgorithms: ['RS256', 'ES256'],
    now: () => clock.t,
    minRefetchInterval: opts.minRefetchInterval ?? 30_000,
    retryInterval: 1000,
    timeout: opts.timeout ?? 2000,
    maxBytes: opts.maxBytes ?? 64 * 1024,
    maxAge: opts.maxAge ?? 600_000,
    onFetchError: (e) => errors.push(e),
  })
  cleanups.push(() => source.close())
  return { ks, clock, source, errors }
}

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ACCEPTED'
  } catch (err) {
    return (err as { code: string }).code
  }
}

describe('JWKS key source', () => {
  it('fetches once, then serves keys from cache', async () => {
    const { ks, source } = await setup()
    const a = rsaKeyPair('a')
    ks.serve({ keys: [a.jwk] })
    const k1 = await source.getKey('a')
    const k2 = await source.getKey('a')
    expect(k1.kid).toBe('a')
    expect(k1.algorithms).toEqual(['RS256'])
    expect(k2).toBe(k1)
    expect(ks.hits).toBe(1)
  })

  it('refetches on an unknown kid at most once per interval, and concurrent misses share one fetch', async () => {
    const { ks, clock, source } = await setup({ minRefetchInterval: 30_000 })
    const a = rsaKeyPair('a')
    const b = rsaKeyPair('b')
    ks.serve({ keys: [a.jwk] })
    await source.getKey('a')
    expect(ks.hits).toBe(1)

    // The first unknown kid refetches (a rotation needs that at once), even right after the load.
    clock.t += 5_000
    expect(await failure(source.getKey('b'))).toBe('SWITCHYARD_JWT_UNKNOWN_KEY')
    expect(ks.hits).toBe(2)
    // Within the interval further unknown kids are refused without asking the key server.
    clock.t += 5_000
    for (let i = 0; i < 50; i++) expect(await failure(source.getKey(`random-kid-${i}`))).toBe('SWITCHYARD_JWT_UNKNOWN_KEY')
    expect(ks.hits).toBe(2)

    // After it, twenty concurrent misses cost one fetch.
    clock.t += 30_000
    ks.serve({ keys: [a.jwk, b.jwk], delayMs: 50 })
    const got = await Promise.all(Array.from({ length: 20 }, () => source.getKey('b')))
    expect(new Set(got.map((k) => k.kid))).toEqual(new Set(['b']))
    expect(ks.hits).toBe(3)
  })

  it('keeps the last good keys while the key server fails, and recovers after', async () => {
    const { ks, clock, source, errors } = await setup({ minRefetchInterval: 1000 })
    const a = rsaKeyPair('a')
    const b = rsaKeyPair('b')
    ks.serve({ keys: [a.jwk] })
    await source.getKey('a')

    for (const broken of [{ status: 500 }, { body: 'not json' }, { body: '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}' }]) {
      clock.t += 1000
      ks.serve(broken)
      expect(await failure(source.getKey('b'))).toBe('SWITCHYARD_JWT_UNKNOWN_KEY')
      expect((await source.getKey('a')).kid).toBe('a')
    }
    expect(errors.map((e) => e.message)).toEqual([
      'jwks fetch failed: status 500',
      'jwks fetch failed: not JSON',
      'jwks fetch failed: no usable keys',
    ])
    expect(source.stats.failures).toBe(3)

    clock.t += 1000
    ks.serve({ keys: [b.jwk] })
    expect((await source.getKey('b')).kid).toBe('b')
    // Rotation: the old key is gone from the new set.
    expect(await failure(source.getKey('a'))).toBe('SWITCHYARD_JWT_UNKNOWN_KEY')
  })

  it('refreshes a stale key set behind the request, paced, keeping the old set on failure', async () => {
    const { ks, clock, source } = await setup({ maxAge: 60_000 })
    const a = rsaKeyPair('a')
    ks.serve({ keys: [a.jwk] })
    await source.getKey('a')
    clock.t += 61_000
    ks.serve({ status: 500 })
    // Served from the stale set at once; one background fetch starts.
    expect((await source.getKey('a')).kid).toBe('a')
    await waitFor(() => source.stats.failures === 1, 2000, 10, 'background refresh')
    // While the key server fails, requests within the refetch interval start no new fetch.
    clock.t += 10_000
    expect((await source.getKey('a')).kid).toBe('a')
    expect(ks.hits).toBe(2)
    clock.t += 20_000
    ks.serve({ keys: [a.jwk, { ...a.jwk, kid: 'a2' }] })
    await source.getKey('a')
    await waitFor(() => source.stats.keyCount === 2, 2000, 10, 'refreshed set')
    expect(ks.hits).toBe(3)
  })

  it('answers 503 while no key set was ever loaded, retrying at most once per retry interval', async () => {
    const { ks, clock, source } = await setup()
    ks.serve({ status: 503 })
    expect(await failure(source.getKey('a'))).toBe('SWITCHYARD_JWT_KEYS_UNAVAILABLE')
    expect(await failure(source.getKey('a'))).toBe('SWITCHYARD_JWT_KEYS_UNAVAILABLE')
    expect(ks.hits).toBe(1)
    clock.t += 1000
    const a = rsaKeyPair('a')
    ks.serve({ keys: [a.jwk] })
    expect((await source.getKey('a')).kid).toBe('a')
    expect(ks.hits).toBe(2)
  })

  it('bounds the fetch: a hanging key server times out and an oversized document is refused', async () => {
    const slow = await setup({ timeout: 150 })
    slow.ks.serve({ hang: true })
    const started = Date.now()
    expect(await failure(slow.source.getKey('a'))).toBe('SWITCHYARD_JWT_KEYS_UNAVAILABLE')
    expect(Date.now() - started).toBeLessThan(1500)
    expect(slow.errors[0]?.message).toMatch(/timed out after 150ms/)

    const big = await setup({ maxBytes: 2048 })
    const one = rsaKeyPair('k').jwk
    const keys = Array.from({ length: 10 }, (_, i) => ({ ...one, kid: `k${i}` }))
    big.ks.serve({ keys })
    expect(await failure(big.source.getKey('k1'))).toBe('SWITCHYARD_JWT_KEYS_UNAVAILABLE')
    expect(big.errors[0]?.message).toMatch(/larger than 2048 bytes/)
  })

  it('uses only signature keys whose type fits the allowlist and their declared alg', async () => {
    const { ks, source } = await setup()
    const rsa = rsaKeyPair('rsa')
    const ec = ecKeyPair('ec')
    const enc = { ...rsaKeyPair('enc').jwk, use: 'enc' }
    const wrongAlg = { ...rsaKeyPair('ps').jwk, alg: 'PS256' } // PS256 is not in the allowlist
    const oct = { kty: 'oct', kid: 'oct', k: 'c2VjcmV0' }
    ks.serve({ keys: [rsa.jwk, ec.jwk, enc, wrongAlg, oct] })
    expect((await source.getKey('rsa')).algorithms).toEqual(['RS256'])
    expect((await source.getKey('ec')).algorithms).toEqual(['ES256'])
    for (const kid of ['enc', 'ps', 'oct']) expect(await failure(source.getKey(kid)), kid).toBe('SWITCHYARD_JWT_UNKNOWN_KEY')
  })
})

describe('JWT verification with a JWKS', () => {
  let verifier: JwtVerifier | undefined
  afterEach(() => verifier?.close())

  it('verifies by kid, ignores jku/x5u/jwk header parameters, and follows a key rotation', async () => {
    const ks = await startKeyServer()
    cleanups.push(() => ks.close())
    const attacker = await startKeyServer()
    cleanups.push(() => attacker.close())
    const good = rsaKeyPair('good')
    const evil = rsaKeyPair('good') // same kid, attacker's key
    ks.serve({ keys: [good.jwk] })
    attacker.serve({ keys: [evil.jwk] })
    verifier = compileJwtVerifier(
      { algorithms: ['RS256'], jwksUrl: ks.url, clockTolerance: 0 },
      { jwks: { minRefetchInterval: 0, retryInterval: 0 } },
    )
    await expect(verifier.verify(good.sign({ sub: 'u1' }))).resolves.toMatchObject({ sub: 'u1' })

    const embedded = { kty: evil.jwk.kty, n: evil.jwk.n, e: evil.jwk.e }
    for (const header of [{ jku: attacker.url }, { x5u: attacker.url }, { jwk: embedded }, { jku: attacker.url, kid: 'evil' }]) {
      const forged = evil.sign({ sub: 'admin', iss: attacker.url }, header)
      const refused = await verifier.verify(forged).then(
        () => 'ACCEPTED',
        (e: { code: string }) => e.code,
      )
      expect(refused, JSON.stringify(Object.keys(header))).toMatch(/SWITCHYARD_JWT_(INVALID|UNKNOWN_KEY)/)
    }
    expect(attacker.hits).toBe(0)

    // Rotation: the IdP publishes a new key; tokens signed with it verify after one refetch.
    const next = rsaKeyPair('next')
    ks.serve({ keys: [next.jwk] })
    await expect(verifier.verify(next.sign({ sub: 'u2' }))).resolves.toMatchObject({ sub: 'u2' })
    await waitFor(() => verifier!.jwks!.stats.keyCount === 1, 1000, 10, 'rotated key set')
  })
})
