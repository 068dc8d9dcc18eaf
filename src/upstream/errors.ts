/**
 * Errors of the upstream layer. These only arise while applying configuration (never per
 * request); the gateway reports them like config errors and keeps the running configuration.
 */
import { createError } from '../error-registry.js'

export const PoolTlsCaError = createError<'SWITCHYARD_POOL_TLS_CA', [string, string, string]>(
  'SWITCHYARD_POOL_TLS_CA',
  'pools.%s.tls.ca: cannot read "%s": %s',
  500,
)

/** An admin call names a pool the running configuration does not have. */
export const UnknownPoolError = createError<'SWITCHYARD_UNKNOWN_POOL', 404, [string]>('SWITCHYARD_UNKNOWN_POOL', 'unknown pool "%s"', 404)

/** An admin call names a backend its pool does not have. */
export const UnknownBackendError = createError<'SWITCHYARD_UNKNOWN_BACKEND', 404, [string, string, string]>(
  'SWITCHYARD_UNKNOWN_BACKEND',
  'pool "%s" has no backend "%s" (backends: %s)',
  404,
)

/** An admin call's backend is not a URL (it must be the URL-encoded backend URL). */
export const BadBackendUrlError = createError<'SWITCHYARD_BAD_BACKEND_URL', 400, [string]>(
  'SWITCHYARD_BAD_BACKEND_URL',
  '"%s" is not a backend URL; URL-encode the backend URL, e.g. http%%3A%%2F%%2F127.0.0.1%%3A8080',
  400,
)
