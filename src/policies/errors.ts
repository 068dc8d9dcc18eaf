/**
 * Error codes of the edge policies (access rules, API keys, basic auth). Registered in
 * src/errors.ts ERROR_CODES and documented in docs/errors.md.
 */
import { createError } from '../error-registry.js'

// captureStackTrace=false: refusals are expected outcomes on the hot path.
export const ERR_ACCESS_DENIED = createError('SWITCHYARD_ACCESS_DENIED', 'client address is not allowed on this route', 403, undefined, false)
export const ERR_API_KEY_MISSING = createError('SWITCHYARD_API_KEY_MISSING', 'an API key is required', 401, undefined, false)
export const ERR_API_KEY_INVALID = createError('SWITCHYARD_API_KEY_INVALID', 'the API key is not valid', 401, undefined, false)
export const ERR_BASIC_AUTH = createError('SWITCHYARD_BASIC_AUTH', 'valid credentials are required', 401, undefined, false)
export const ERR_CORS_ORIGIN = createError('SWITCHYARD_CORS_ORIGIN', 'origin %s is not allowed on this route', 403, undefined, false)
