/**
 * Typed errors of rate limiting. Both are answered by the rate-limit plugin itself with the
 * SPEC's JSON body; 429 carries `Retry-After` (RFC 6585 §4, RFC 9110 §10.2.3).
 */
import { createError } from '../error-registry.js'

export const ERR_RATE_LIMITED = createError('SWITCHYARD_RATE_LIMITED', 'rate limit exceeded, retry in %s seconds', 429, undefined, false)
/** Only on routes with `onStoreError: deny`; other routes fail open while the store is down. */
export const ERR_RATE_LIMIT_STORE = createError('SWITCHYARD_RATE_LIMIT_STORE', 'rate limit store unavailable', 503, undefined, false)
/** Settings the limiter cannot apply (raised at compile time, never per request). */
export const ERR_RATE_LIMIT_CONFIG = createError('SWITCHYARD_RATE_LIMIT_CONFIG', 'rateLimit: %s', 500)

export const RATE_LIMIT_ERROR_CODES = [ERR_RATE_LIMITED, ERR_RATE_LIMIT_STORE].map((E) => {
  const e = new E('…')
  return { code: e.code, statusCode: e.statusCode as number }
})
