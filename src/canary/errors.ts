/** Typed errors of the canary admin calls (documented in docs/errors.md). */
import { createError } from '../error-registry.js'

/** `POST /api/canaries/:route/…` names a route without a canary. */
export const UnknownCanaryError = createError<'SWITCHYARD_CANARY_UNKNOWN', 404, [string]>('SWITCHYARD_CANARY_UNKNOWN', 'route "%s" has no canary', 404)

/** The action does not apply to the canary's state (resume while progressing, promote twice…). */
export const CanaryConflictError = createError<'SWITCHYARD_CANARY_CONFLICT', 409, [string]>('SWITCHYARD_CANARY_CONFLICT', '%s', 409)

/**
 * A fleet's follower (`configSource.etcd`) could not get its leader to run the action in time
 * (no leader elected, or etcd unreachable): nothing was changed.
 */
export const CanaryNoLeaderError = createError<'SWITCHYARD_CANARY_NO_LEADER', 503, [string]>('SWITCHYARD_CANARY_NO_LEADER', '%s', 503)
