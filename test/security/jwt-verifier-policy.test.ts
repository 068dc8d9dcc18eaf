/**
 * The verifier's policy, compiled from JwtSettings: allowlist, key/algorithm fit, time claims,
 * issuer/audience, size and shape checks. Pure logic over real keys; the same attacks over real
 * sockets are in jwt-attacks.test.ts.
 */
import { describe, expect, it } from 'vitest'
import type { JwtSettings } from '../../src/config/model.js'
import { compileJwtVerifier } from '../../src/auth/jwt-verifier.js'
import { b64url, ecKeyPair, edKeyPair, handSignedHmac, hs256, nowSec, rsaKeyPair, SECRET, tempFile, unsigned } from './tokens.js'

const base: JwtSettings = { algorithms: ['HS256'], secret: SECRET, clockTolerance: 0 }

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    return (err as { code: string }).code
  }
  return 'ACCEPTED'
}

describe('configuration is refused when unsafe', () => {
  it('refuses "none", unknown algorithms and an empty allowlist', () => {
    expect(() => compileJwtVerifier({ ...base, algorithms: ['none'] })).toThrow(/"none" is never accepted/)
    expect(() => compileJwtVerifier({ ...base, algorithms: ['NONE'] })).toThrow(/never accepted/)
    expect(() => compileJwtVerifier({ ...base, algorithms: ['HS1'] })).toThrow(/unsupported algorithm/)
    expect(() => compileJwtVerifier({ ...base, algorithms: [] })).toThrow(/at least one/)
  })

  it('refuses an empty secret and a secret that is really key material', () => {
    expect(() => compileJwtVerifier({ ...base, secret: '' })).toThrow(/must not be empty/)
    const pem = rsaKeyPair('k').publicPem
    expect(() => compileJwtVerifier({ ...base, secret: pem })).toThrow(/looks like key material/)
  })

  it('refuses HMAC algorithms with a public key or a JWKS, and asymmetric ones with a secret', () => {
    const file = tempFile('rsa.pem', rsaKeyPair('k').publicPem)
    expect(() => compileJwtVerifier({ algorithms: ['RS256', 'HS256'], publicKey: file, clockTolerance: 0 })).toThrow(/HMAC algorithm HS256 refused/)
    expect(() => compileJwtVerifier({ algorithms: ['HS256'], jwksUrl: 'https://idp.example/jwks', clockTolerance: 0 })).toThrow(/HMAC/)
    expect(() => compileJwtVerifier({ ...base, algorithms: ['HS256', 'RS256'] })).toThrow(/shared secret/)
  })

  it('refuses algorithms the public key cannot verify, a private key file and more than one key source', () => {
    const rsa = tempFile('rsa.pem', rsaKeyPair('k').publicPem)
    expect(() => compileJwtVerifier({ algorithms: ['ES256'], publicKey: rsa, clockTolerance: 0 })).toThrow(/cannot be verified with this rsa key/)
    const priv = tempFile('priv.pem', rsaKeyPair('k').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)
    expect(() => compileJwtVerifier({ algorithms: ['RS256'], publicKey: priv, clockTolerance: 0 })).toThrow(/private key/)
    expect(() => compileJwtVerifier({ ...base, publicKey: rsa })).toThrow(/exactly one/)
  })

  it('warns about an HMAC secret shorter than the hash (RFC 7518 §3.2)', () => {
    expect(compileJwtVerifier({ ...base, secret: 'short' }).warnings[0]).toMatch(/shorter than the 32 bytes HS256 needs/)
    expect(compileJwtVerifier(base).warnings).toEqual([])
  })
})

describe('tokens are refused unless signed with the configured key and algorithm', () => {
  const v = compileJwtVerifier(base)

  it('accepts a good HS256 token and returns its claims', async () => {
    await expect(v.verify(hs256({ sub: 'u1', exp: nowSec() + 60 }))).resolves.toMatchObject({ sub: 'u1' })
  })

  it('refuses alg none, with and without a signature segment', async () => {
    expect(await code(v.verify(unsigned({ sub: 'admin' })))).toBe('SWITCHYARD_JWT_INVALID')
    expect(await code(v.verify(`${unsigned({ sub: 'admin' })}c2ln`))).toBe('SWITCHYARD_JWT_INVALID')
    expect(await code(v.verify(unsigned({ sub: 'admin' }, 'HS256')))).toBe('SWITCHYARD_JWT_INVALID')
  })

  it('refuses a tampered payload and a token signed with another secret', async () => {
    const good = hs256({ sub: 'u1', admin: false })
    const [h, , s] = good.split('.')
    expect(await code(v.verify(`${h}.${b64url({ sub: 'u1', admin: true })}.${s}`))).toBe('SWITCHYARD_JWT_INVALID')
    expect(await code(v.verify(hs256({ sub: 'u1' }, 'another-secret-that-is-long-enough!!')))).toBe('SWITCHYARD_JWT_INVALID')
  })

  it('refuses HS256 tokens keyed with the RSA public key (algorithm confusion)', async () => {
    const kp = rsaKeyPair('k1')
    const rs = compileJwtVerifier({ algorithms: ['RS256'], publicKey: tempFile('pub.pem', kp.publicPem), clockTolerance: 0 })
    await expect(rs.verify(kp.sign({ sub: 'u1' }))).resolves.toMatchObject({ sub: 'u1' })
    const forged = handSignedHmac({ alg: 'HS256', typ: 'JWT' }, { sub: 'admin' }, kp.publicPem)
    expect(await code(rs.verify(forged))).toBe('SWITCHYARD_JWT_INVALID')
  })

  it('verifies ES256 and EdDSA with PEM public keys', async () => {
    const ec = ecKeyPair('e')
    const ed = edKeyPair('d')
    const ve = compileJwtVerifier({ algorithms: ['ES256'], publicKey: tempFile('ec.pem', ec.publicPem), clockTolerance: 0 })
    const vd = compileJwtVerifier({ algorithms: ['EdDSA'], publicKey: tempFile('ed.pem', ed.publicPem), clockTolerance: 0 })
    await expect(ve.verify(ec.sign({ sub: 'e' }))).resolves.toMatchObject({ sub: 'e' })
    await expect(vd.verify(ed.sign({ sub: 'd' }))).resolves.toMatchObject({ sub: 'd' })
    expect(await code(ve.verify(ed.sign({ sub: 'd' })))).toBe('SWITCHYARD_JWT_INVALID')
  })

  it('refuses oversized and malformed tokens before decoding them', async () => {
    const small = compileJwtVerifier(base, { maxTokenLength: 100 })
    expect(await code(small.verify(hs256({ sub: 'x'.repeat(200) })))).toBe('SWITCHYARD_JWT_TOO_LARGE')
    for (const bad of ['abc', 'a.b', 'a.b.c.d', 'a..c', '.b.c', 'a b.c.d', `${b64url({ alg: 'HS256' })}=.${b64url({})}.x`, 'e30.e30.e30.e30.e30']) {
      expect(await code(v.verify(bad)), bad).toBe('SWITCHYARD_JWT_MALFORMED')
    }
    // Valid base64url but not JSON objects.
    expect(await code(v.verify(`${b64url('[1]')}.${b64url('{}')}.sig`))).toBe('SWITCHYARD_JWT_MALFORMED')
  })
})

describe('time and audience claims', () => {
  it('refuses an expired token and honours clockTolerance for exp and nbf', async () => {
    const strict = compileJwtVerifier(base)
    const tolerant = compileJwtVerifier({ ...base, clockTolerance: 30_000 })
    const expired = hs256({ sub: 'u', exp: nowSec() - 10 })
    const early = hs256({ sub: 'u', nbf: nowSec() + 10 })
    expect(await code(strict.verify(expired))).toBe('SWITCHYARD_JWT_EXPIRED')
    expect(await code(strict.verify(early))).toBe('SWITCHYARD_JWT_NOT_YET_VALID')
    expect(await code(tolerant.verify(expired))).toBe('ACCEPTED')
    expect(await code(tolerant.verify(early))).toBe('ACCEPTED')
    expect(await code(tolerant.verify(hs256({ sub: 'u', exp: nowSec() - 60 })))).toBe('SWITCHYARD_JWT_EXPIRED')
    expect(await code(strict.verify(handSignedHmac({ alg: 'HS256' }, { sub: 'u', exp: 'tomorrow' }, SECRET)))).toBe('SWITCHYARD_JWT_INVALID')
  })

  it('requires iss and aud to be present and equal when configured', async () => {
    const v = compileJwtVerifier({ ...base, issuer: 'https://auth.example.com', audience: 'api' })
    const ok = { iss: 'https://auth.example.com', aud: 'api', sub: 'u' }
    expect(await code(v.verify(hs256(ok)))).toBe('ACCEPTED')
    expect(await code(v.verify(hs256({ ...ok, aud: ['other', 'api'] })))).toBe('ACCEPTED')
    expect(await code(v.verify(hs256({ ...ok, iss: 'https://evil.example.com' })))).toBe('SWITCHYARD_JWT_INVALID')
    expect(await code(v.verify(hs256({ ...ok, aud: 'other' })))).toBe('SWITCHYARD_JWT_INVALID')
    expect(await code(v.verify(hs256({ sub: 'u', aud: 'api' })))).toBe('SWITCHYARD_JWT_INVALID')
    expect(await code(v.verify(hs256({ sub: 'u', iss: 'https://auth.example.com' })))).toBe('SWITCHYARD_JWT_INVALID')
  })
})

describe('jwtSettingsProblems (for check and reload validation)', () => {
  it('reports what compiling would refuse, and nothing for good settings', async () => {
    const { jwtSettingsProblems } = await import('../../src/auth/jwt-verifier.js')
    expect(jwtSettingsProblems(base)).toEqual([])
    const rsa = tempFile('rsa.pem', rsaKeyPair('k').publicPem)
    expect(jwtSettingsProblems({ algorithms: ['ES256'], publicKey: rsa, clockTolerance: 0 })).toEqual(['jwt: algorithms: ES256 cannot be verified with this rsa key'])
    expect(jwtSettingsProblems({ algorithms: ['RS256'], publicKey: '/nonexistent.pem', clockTolerance: 0 })[0]).toMatch(/cannot read/)
  })
})
