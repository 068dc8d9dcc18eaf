/**
 * The gateway's JWT verifier, compiled once per configuration from `JwtSettings` on fast-jwt
 * (the engine under @fastify/jwt). The policy, following RFC 8725 (JWT best current practices):
 *
 * - `algorithms` is an allowlist; `none` is never accepted (§3.1) and the key decides which
 *   algorithms can be checked with it (§3.1, §2.1 algorithm confusion): an HMAC algorithm is
 *   refused with public-key material, an asymmetric one with a shared secret.
 * - Keys come from configuration only: `secret`, a `publicKey` PEM file, or the `jwksUrl` key set.
 *   Header parameters that point elsewhere (`jku`, `x5u`, `jwk`, `x5c`) are ignored (§3.10).
 * - `exp` and `nbf` are enforced with `clockTolerance`; `iss` and `aud` must be present and match
 *   when configured (§3.8, §3.9).
 * - Oversized and malformed tokens are refused before any base64 or JSON work; signatures are
 *   checked before any claim is trusted.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createVerifier, TokenError, type Algorithm } from 'fast-jwt'
import type { JwtSettings } from '../config/model.js'
import { algorithmsForKey, isHmac, SUPPORTED_ALGORITHMS } from './algorithms.js'
import {
  ERR_JWT_CONFIG,
  ERR_JWT_EXPIRED,
  ERR_JWT_INVALID,
  ERR_JWT_MALFORMED,
  ERR_JWT_NOT_YET_VALID,
  ERR_JWT_TOO_LARGE,
} from './errors.js'
import { createJwksKeySource, type JwksKey, type JwksKeySource, type JwksOptions } from './jwks.js'
import { createTokenCache, TOKEN_CACHE_DEFAULTS, type TokenCache } from './token-cache.js'

export type Claims = Readonly<Record<string, unknown>>

/** Longest accepted compact token; real tokens are well under 2 KiB. */
export const DEFAULT_MAX_TOKEN_LENGTH = 8192

export interface JwtVerifierOptions {
  readonly maxTokenLength?: number
  /** JWKS fetch tuning (the URL and allowlist come from the settings). */
  readonly jwks?: Omit<JwksOptions, 'url' | 'allowedAlgorithms'>
  /**
   * Verified tokens remembered (until their `exp` + clockTolerance, at most `cacheTtl`) so a hot
   * token is checked once (src/auth/token-cache.ts). 0 disables. Default 10 000.
   */
  readonly cacheSize?: number
  /** Bytes of token text the cache may hold. Default 32 MiB. */
  readonly cacheMaxBytes?: number
  /** Longest a verified token is remembered, ms (also for tokens without `exp`). Default 10 min. */
  readonly cacheTtl?: number
  /** The token cache's clock (epoch ms); tests inject one. Default Date.now. */
  readonly now?: () => number
}

export interface JwtVerifierStats {
  /** Tokens checked by fast-jwt (signature and claims): cache misses, including refusals. */
  verified: number
  /** Tokens answered from the token cache. */
  cacheHits: number
}

/** The fast-jwt verify options this policy compiles to (also what @fastify/jwt is given). */
export interface CompiledVerifyOptions {
  readonly algorithms: string[]
  readonly allowedIss?: string
  readonly allowedAud?: string
  readonly clockTolerance: number
  readonly requiredClaims: string[]
  /** false: the verifier's own token cache (src/auth/token-cache.ts) sits in front of fast-jwt. */
  readonly cache: number | boolean
}

export interface JwtVerifier {
  readonly settings: JwtSettings
  readonly maxTokenLength: number
  readonly verifyOptions: CompiledVerifyOptions
  /** Verify a compact JWS; resolves to its claims or rejects with a typed 401 (or 503) error. */
  verify(token: string): Promise<Claims>
  /**
   * The same check without a promise when none is needed: returns the claims (or throws the
   * typed error) synchronously for a cached token and for keys at hand (secret, publicKey, a
   * JWKS key already loaded); returns a promise only when the key set must be fetched first.
   */
  check(token: string): Claims | Promise<Claims>
  readonly stats: Readonly<JwtVerifierStats>
  /** The key set, when keys come from `jwksUrl`. */
  readonly jwks: JwksKeySource | undefined
  /** Settings that work but deserve a log line (e.g. a short HMAC secret). */
  readonly warnings: readonly string[]
  close(): void
}

type FastVerifier = (token: string) => Record<string, unknown>

// RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
const MIN_SECRET_BYTES: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 }

/** Compile settings into a verifier. Throws ERR_JWT_CONFIG naming the problem. */
export function compileJwtVerifier(settings: JwtSettings, options: JwtVerifierOptions = {}): JwtVerifier {
  const algorithms = [...settings.algorithms]
  const warnings: string[] = []
  if (algorithms.length === 0) throw new ERR_JWT_CONFIG('algorithms: at least one algorithm is required')
  for (const alg of algorithms) {
    if (alg.toLowerCase() === 'none') throw new ERR_JWT_CONFIG('algorithms: "none" is never accepted')
    if (!SUPPORTED_ALGORITHMS.has(alg)) throw new ERR_JWT_CONFIG(`algorithms: unsupported algorithm "${alg}"`)
  }
  const sources = [settings.secret !== undefined, settings.publicKey !== undefined, settings.jwksUrl !== undefined].filter(Boolean).length
  if (sources !== 1) throw new ERR_JWT_CONFIG('exactly one of secret, publicKey or jwksUrl is required')
  if (!(settings.clockTolerance >= 0)) throw new ERR_JWT_CONFIG('clockTolerance: must be a non-negative duration')

  const maxTokenLength = options.maxTokenLength ?? DEFAULT_MAX_TOKEN_LENGTH
  const requiredClaims: string[] = []
  // fast-jwt skips an issuer/audience check when the claim is absent: require it explicitly.
  if (settings.issuer !== undefined) requiredClaims.push('iss')
  if (settings.audience !== undefined) requiredClaims.push('aud')
  const verifyOptions: CompiledVerifyOptions = {
    algorithms,
    ...(settings.issuer !== undefined ? { allowedIss: settings.issuer } : {}),
    ...(settings.audience !== undefined ? { allowedAud: settings.audience } : {}),
    clockTolerance: settings.clockTolerance,
    requiredClaims,
    cache: false,
  }
  const compile = (key: string | Buffer, algs: readonly string[]): FastVerifier =>
    createVerifier({ ...verifyOptions, algorithms: [...algs] as Algorithm[], key }) as FastVerifier

  if (settings.secret !== undefined) {
    const secret = settings.secret
    if (secret.length === 0) throw new ERR_JWT_CONFIG('secret: must not be empty')
    const asymmetric = algorithms.filter((a) => !isHmac(a))
    if (asymmetric.length > 0) throw new ERR_JWT_CONFIG(`algorithms: ${asymmetric.join(', ')} cannot be verified with a shared secret; use publicKey or jwksUrl`)
    // A public key pasted as a "secret" is the classic HS/RS confusion set-up: anyone holding the
    // public key could then mint tokens.
    const trimmed = secret.trim()
    if (trimmed.includes('-----BEGIN') || trimmed.startsWith('{')) throw new ERR_JWT_CONFIG('secret: looks like key material; use publicKey or jwksUrl')
    const bytes = Buffer.byteLength(secret)
    for (const alg of algorithms) {
      if (bytes < MIN_SECRET_BYTES[alg]!) warnings.push(`secret: ${bytes} bytes is shorter than the ${MIN_SECRET_BYTES[alg]} bytes ${alg} needs (RFC 7518 §3.2)`)
    }
    return staticVerifier(settings, verifyOptions, maxTokenLength, warnings, tokenCache(settings, options), compile(Buffer.from(secret, 'utf8'), algorithms))
  }

  if (settings.publicKey !== undefined) {
    const hmac = algorithms.filter(isHmac)
    if (hmac.length > 0) throw new ERR_JWT_CONFIG(`algorithms: HMAC algorithm ${hmac.join(', ')} refused with public-key material`)
    let text: string
    try {
      text = readFileSync(settings.publicKey, 'utf8')
    } catch (err) {
      throw new ERR_JWT_CONFIG(`publicKey: cannot read ${settings.publicKey} (${(err as Error).message})`)
    }
    if (text.includes('PRIVATE KEY')) throw new ERR_JWT_CONFIG('publicKey: the file holds a private key; give the gateway only the public key')
    let key: KeyObject
    try {
      key = createPublicKey(text)
    } catch (err) {
      throw new ERR_JWT_CONFIG(`publicKey: ${settings.publicKey} is not a PEM public key (${(err as Error).message})`)
    }
    const usable = algorithmsForKey(key)
    const misfit = algorithms.filter((a) => !usable.includes(a))
    if (misfit.length > 0) throw new ERR_JWT_CONFIG(`algorithms: ${misfit.join(', ')} cannot be verified with this ${key.asymmetricKeyType} key`)
    const spki = key.export({ type: 'spki', format: 'pem' }) as string
    return staticVerifier(settings, verifyOptions, maxTokenLength, warnings, tokenCache(settings, options), compile(spki, algorithms))
  }

  const jwksUrl = settings.jwksUrl!
  const hmac = algorithms.filter(isHmac)
  if (hmac.length > 0) throw new ERR_JWT_CONFIG(`algorithms: HMAC algorithm ${hmac.join(', ')} refused with a JWKS (public keys)`)
  let parsed: URL
  try {
    parsed = new URL(jwksUrl)
  } catch {
    throw new ERR_JWT_CONFIG(`jwksUrl: "${jwksUrl}" is not a URL`)
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new ERR_JWT_CONFIG('jwksUrl: must be http(s)')
  if (parsed.protocol === 'http:' && !isLoopback(parsed.hostname)) warnings.push('jwksUrl: plain http lets anyone on the path substitute signing keys; use https')
  const jwks = createJwksKeySource({ ...options.jwks, url: jwksUrl, allowedAlgorithms: algorithms })
  return jwksVerifier(settings, verifyOptions, maxTokenLength, warnings, tokenCache(settings, options), jwks, compile)
}

function tokenCache(settings: JwtSettings, options: JwtVerifierOptions): TokenCache {
  return createTokenCache({
    size: options.cacheSize ?? TOKEN_CACHE_DEFAULTS.size,
    maxBytes: options.cacheMaxBytes ?? TOKEN_CACHE_DEFAULTS.maxBytes,
    maxTtl: options.cacheTtl ?? TOKEN_CACHE_DEFAULTS.maxTtl,
    clockTolerance: settings.clockTolerance,
    now: options.now ?? Date.now,
  })
}

/** fast-jwt, counted, with its errors mapped to ours. */
function runFast(fast: FastVerifier, token: string, stats: JwtVerifierStats): Claims {
  stats.verified++
  try {
    return fast(token)
  } catch (err) {
    throw mapTokenError(err)
  }
}

function asPromise(check: (token: string) => Claims | Promise<Claims>): (token: string) => Promise<Claims> {
  return (token) => {
    try {
      return Promise.resolve(check(token))
    } catch (err) {
      return Promise.reject(err as Error)
    }
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.')
}

function staticVerifier(
  settings: JwtSettings,
  verifyOptions: CompiledVerifyOptions,
  maxTokenLength: number,
  warnings: readonly string[],
  cache: TokenCache,
  fast: FastVerifier,
): JwtVerifier {
  const stats: JwtVerifierStats = { verified: 0, cacheHits: 0 }
  let closed = false
  const check = (token: string): Claims => {
    const hit = cache.get(token)
    if (hit !== undefined) {
      stats.cacheHits++
      return hit.claims
    }
    checkShape(token, maxTokenLength)
    const claims = runFast(fast, token, stats)
    if (!closed) cache.set(token, claims, undefined, undefined)
    return claims
  }
  return {
    settings,
    maxTokenLength,
    verifyOptions,
    jwks: undefined,
    warnings,
    stats,
    check,
    verify: asPromise(check),
    close() {
      closed = true
      cache.clear()
    },
  }
}

function jwksVerifier(
  settings: JwtSettings,
  verifyOptions: CompiledVerifyOptions,
  maxTokenLength: number,
  warnings: readonly string[],
  cache: TokenCache,
  jwks: JwksKeySource,
  compile: (key: string, algs: readonly string[]) => FastVerifier,
): JwtVerifier {
  const allowed = new Set(verifyOptions.algorithms)
  // One compiled verifier per key object; a refetched key set brings new objects and new verifiers.
  const perKey = new WeakMap<JwksKey, FastVerifier>()
  const stats: JwtVerifierStats = { verified: 0, cacheHits: 0 }
  let closed = false
  const withKey = (token: string, kid: string | undefined, key: JwksKey): Claims => {
    let fast = perKey.get(key)
    if (fast === undefined) {
      fast = compile(key.pem, key.algorithms)
      perKey.set(key, fast)
    }
    const claims = runFast(fast, token, stats)
    if (!closed) cache.set(token, claims, key, kid)
    return claims
  }
  const check = (token: string): Claims | Promise<Claims> => {
    const hit = cache.get(token)
    // Only while the key set still serves the very key that verified it (rotation drops it).
    if (hit !== undefined && jwks.peekKey(hit.kid) === hit.key) {
      stats.cacheHits++
      return hit.claims
    }
    checkShape(token, maxTokenLength)
    const header = readHeader(token)
    // Refuse a disallowed `alg` before it can cost a key-server round trip.
    if (!allowed.has(header.alg)) throw new ERR_JWT_INVALID('algorithm not allowed')
    const kid = header.kid
    const known = jwks.peekKey(kid)
    if (known !== undefined) return withKey(token, kid, known)
    return jwks.getKey(kid).then((key) => withKey(token, kid, key))
  }
  return {
    settings,
    maxTokenLength,
    verifyOptions,
    jwks,
    warnings,
    stats,
    check,
    verify: asPromise(check),
    close() {
      closed = true
      cache.clear()
      jwks.close()
    },
  }
}

/**
 * JWS compact serialization (RFC 7515 §7.1): exactly three base64url segments. One pass over
 * char codes, no regex, no allocation; a JWE (five segments) or anything padded is malformed.
 */
export function checkShape(token: string, maxTokenLength: number): void {
  if (token.length > maxTokenLength) throw new ERR_JWT_TOO_LARGE(maxTokenLength)
  let dots = 0
  let segmentStart = 0
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i)
    if (c === 46 /* . */) {
      // Header and payload must be non-empty; an empty signature is caught by the verifier.
      if (i === segmentStart || ++dots > 2) throw new ERR_JWT_MALFORMED()
      segmentStart = i + 1
      continue
    }
    const b64url = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95
    if (!b64url) throw new ERR_JWT_MALFORMED()
  }
  if (dots !== 2) throw new ERR_JWT_MALFORMED()
}

function readHeader(token: string): { alg: string; kid: string | undefined } {
  let header: unknown
  try {
    header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'))
  } catch {
    throw new ERR_JWT_MALFORMED()
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new ERR_JWT_MALFORMED()
  const { alg, kid } = header as { alg?: unknown; kid?: unknown }
  if (typeof alg !== 'string') throw new ERR_JWT_MALFORMED()
  if (kid !== undefined && typeof kid !== 'string') throw new ERR_JWT_MALFORMED()
  return { alg, kid }
}

const CODES = TokenError.codes

/** fast-jwt's errors mapped once to ours; the original stays as `cause` for logs. */
export function mapTokenError(err: unknown): Error {
  const code = (err as { code?: string }).code
  const cause = { cause: err }
  switch (code) {
    case CODES.expired:
      return new ERR_JWT_EXPIRED(cause)
    case CODES.inactive:
      return new ERR_JWT_NOT_YET_VALID(cause)
    case CODES.malformed:
    case CODES.invalidPayload:
    case CODES.invalidType:
      return new ERR_JWT_MALFORMED(cause)
    case CODES.invalidAlgorithm:
      return new ERR_JWT_INVALID('algorithm not allowed', cause)
    case CODES.missingSignature:
    case CODES.invalidSignature:
    case CODES.verifyError:
    case CODES.invalidKey:
      return new ERR_JWT_INVALID('signature rejected', cause)
    case CODES.missingRequiredClaim:
    case CODES.invalidClaimValue:
    case CODES.invalidClaimType:
      return new ERR_JWT_INVALID('claims rejected (issuer, audience or a registered claim)', cause)
    case CODES.invalidCritHeader:
      return new ERR_JWT_INVALID('unsupported critical header', cause)
    default:
      if (typeof code === 'string' && code.startsWith('SWITCHYARD_')) return err as Error
      return new ERR_JWT_INVALID('verification failed', cause)
  }
}

/**
 * What `compileJwtVerifier` would refuse, as messages (empty when the settings compile): for
 * `switchyard check` and reload validation, so a bad key file or a key/algorithm mismatch is
 * reported before the configuration is applied. Reads the publicKey file; fetches nothing.
 */
export function jwtSettingsProblems(settings: JwtSettings): string[] {
  try {
    compileJwtVerifier(settings).close()
    return []
  } catch (err) {
    return [(err as Error).message]
  }
}
