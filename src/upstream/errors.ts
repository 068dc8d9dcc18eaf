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
