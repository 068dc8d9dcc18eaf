/**
 * Cache errors. None reaches a client: the cache middleware turns a store failure into a miss
 * (and a log line). They exist so logs and tests can tell store trouble from anything else.
 */
import { createError } from '../error-registry.js'

// captureStackTrace=false: an unavailable store is an expected condition, not a bug.
export const ERR_CACHE_STORE_UNAVAILABLE = createError('SWITCHYARD_CACHE_STORE_UNAVAILABLE', 'cache store unavailable (%s)', 503, undefined, false)
