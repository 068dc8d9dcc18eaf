/**
 * Which JWS algorithms (RFC 7518 §3.1, RFC 8037 §3.1) a key may verify. Deciding this from the
 * key, never from the token, is what defeats algorithm confusion: a token saying `HS256` can
 * never be checked against a public key used as an HMAC secret.
 */
import type { KeyObject } from 'node:crypto'

export const HMAC_ALGORITHMS: readonly string[] = ['HS256', 'HS384', 'HS512']
const RSA_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
const PSS_ALGORITHMS: readonly string[] = ['PS256', 'PS384', 'PS512']
const EC_ALGORITHM_BY_CURVE: Readonly<Record<string, string>> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
}

/** Every algorithm the gateway can verify. `none` is deliberately absent (RFC 8725 §3.1). */
export const SUPPORTED_ALGORITHMS: ReadonlySet<string> = new Set([
  ...HMAC_ALGORITHMS,
  ...RSA_ALGORITHMS,
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
])

export function isHmac(alg: string): boolean {
  return alg === 'HS256' || alg === 'HS384' || alg === 'HS512'
}

/** The algorithms a public key can verify; empty for key types we do not support. */
export function algorithmsForKey(key: KeyObject): readonly string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return RSA_ALGORITHMS
    case 'rsa-pss':
      return PSS_ALGORITHMS
    case 'ec': {
      const alg = EC_ALGORITHM_BY_CURVE[key.asymmetricKeyDetails?.namedCurve ?? '']
      return alg ? [alg] : []
    }
    case 'ed25519':
    case 'ed448':
      return ['EdDSA']
    default:
      return []
  }
}
