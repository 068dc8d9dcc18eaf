/**
 * Test tokens: real keys from node:crypto, tokens signed by fast-jwt or assembled by hand for
 * the attacks fast-jwt's signer refuses to produce (alg none, HMAC keyed with a public key).
 */
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createSigner, type Algorithm, type JwtHeader } from 'fast-jwt'

export const SECRET = 'a-test-secret-that-is-32-bytes-long!!'

export function b64url(v: unknown): string {
  return Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')
}

export const nowSec = (): number => Math.floor(Date.now() / 1000)

export function hs256(payload: Record<string, unknown>, secret: string = SECRET, header: Record<string, unknown> = {}): string {
  return createSigner({ key: secret, algorithm: 'HS256', header: header as unknown as JwtHeader })(payload)
}

/** An HMAC-signed token with any header: for alg-confusion attacks with a public key as the secret. */
export function handSignedHmac(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | Buffer): string {
  const input = `${b64url(header)}.${b64url(payload)}`
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
}

export function unsigned(payload: Record<string, unknown>, alg = 'none'): string {
  return `${b64url({ alg, typ: 'JWT' })}.${b64url(payload)}.`
}

export interface TestKeyPair {
  readonly kid: string
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
  readonly publicPem: string
  readonly jwk: Record<string, unknown>
  sign(payload: Record<string, unknown>, header?: Record<string, unknown>): string
}

// RSA generation costs ~100 ms of CPU the other test workers share: keep a small ring of key
// material per worker. Any RSA_RING consecutive calls get distinct keys (an attacker's key never
// equals the real one in a test).
const RSA_RING = 6
const rsaRing: { privateKey: KeyObject; publicKey: KeyObject }[] = []
let rsaNext = 0

export function rsaKeyPair(kid: string, alg: 'RS256' | 'PS256' = 'RS256'): TestKeyPair {
  if (rsaRing.length < RSA_RING) rsaRing.push(generateKeyPairSync('rsa', { modulusLength: 2048 }))
  const { privateKey, publicKey } = rsaRing[rsaNext++ % RSA_RING]!
  return pair(kid, privateKey, publicKey, alg)
}

export function ecKeyPair(kid: string): TestKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return pair(kid, privateKey, publicKey, 'ES256')
}

export function edKeyPair(kid: string): TestKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return pair(kid, privateKey, publicKey, 'EdDSA')
}

function pair(kid: string, privateKey: KeyObject, publicKey: KeyObject, alg: string): TestKeyPair {
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }) as string
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg }
  return {
    kid,
    privateKey,
    publicKey,
    publicPem,
    jwk,
    sign: (payload, header = {}) => createSigner({ key: privatePem, algorithm: alg as Algorithm, kid, header: header as unknown as JwtHeader })(payload),
  }
}

/** Write a file into a fresh temp directory; returns its absolute path. */
export function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-sec-'))
  const file = path.join(dir, name)
  writeFileSync(file, content)
  return file
}
