/**
 * Typed errors of bearer-token authentication. Every 401 is answered with
 * `WWW-Authenticate: Bearer error="invalid_token"` (SPEC §3; RFC 6750 §3.1) and every 403 with
 * `error="insufficient_scope"`; the plugin reads `statusCode` to pick the header. Messages are
 * short and never echo the token.
 */
import { createError } from '../error-registry.js'

// captureStackTrace=false: refusing a bad token is an expected outcome on the hot path.
export const ERR_JWT_MISSING = createError('SWITCHYARD_JWT_MISSING', 'missing bearer token', 401, undefined, false)
export const ERR_JWT_MALFORMED = createError('SWITCHYARD_JWT_MALFORMED', 'malformed bearer token', 401, undefined, false)
export const ERR_JWT_TOO_LARGE = createError('SWITCHYARD_JWT_TOO_LARGE', 'bearer token exceeds %s bytes', 401, undefined, false)
export const ERR_JWT_INVALID = createError('SWITCHYARD_JWT_INVALID', 'invalid token: %s', 401, undefined, false)
export const ERR_JWT_EXPIRED = createError('SWITCHYARD_JWT_EXPIRED', 'token expired', 401, undefined, false)
export const ERR_JWT_NOT_YET_VALID = createError('SWITCHYARD_JWT_NOT_YET_VALID', 'token not yet valid', 401, undefined, false)
export const ERR_JWT_UNKNOWN_KEY = createError('SWITCHYARD_JWT_UNKNOWN_KEY', 'no signing key matches the token', 401, undefined, false)
/** The key server has never answered (or its keys were all unusable): nothing can be verified. */
export const ERR_JWT_KEYS_UNAVAILABLE = createError('SWITCHYARD_JWT_KEYS_UNAVAILABLE', 'signing keys unavailable', 503, undefined, false)
export const ERR_JWT_FORBIDDEN = createError('SWITCHYARD_JWT_FORBIDDEN', 'token lacks required claim "%s"', 403, undefined, false)

/** Configuration errors: raised while compiling settings, never on the request path. */
export const ERR_JWT_CONFIG = createError('SWITCHYARD_JWT_CONFIG', 'jwt: %s', 500)
/** A key-server answer that cannot be used (status, size, JSON, no usable keys). */
export const ERR_JWKS_FETCH = createError('SWITCHYARD_JWKS_FETCH', 'jwks fetch failed: %s', 502, undefined, false)

export const AUTH_ERROR_CODES = [
  ERR_JWT_MISSING, ERR_JWT_MALFORMED, ERR_JWT_TOO_LARGE, ERR_JWT_INVALID, ERR_JWT_EXPIRED, ERR_JWT_NOT_YET_VALID,
  ERR_JWT_UNKNOWN_KEY, ERR_JWT_KEYS_UNAVAILABLE, ERR_JWT_FORBIDDEN,
].map((E) => {
  const e = new E('…')
  return { code: e.code, statusCode: e.statusCode as number }
})
