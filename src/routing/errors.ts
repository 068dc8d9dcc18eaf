/**
 * Typed errors of the routing layer. They carry their HTTP status so the gateway's error
 * handler answers with the SPEC's JSON body without mapping. Request-path errors skip stack
 * capture: a malformed target is client input, not a bug, and it can arrive at line rate.
 */
import { createError } from '../error-registry.js'

/** The request target cannot be normalised safely (malformed or ambiguous spelling). */
export const BadPathError = createError<'SWITCHYARD_BAD_PATH', 400, [string]>('SWITCHYARD_BAD_PATH', 'Bad request target: %s', 400, undefined, false)

/** A runtime weight change names a pool the route's split does not have. */
export const UnknownSplitPoolError = createError<'SWITCHYARD_SPLIT_UNKNOWN_POOL', 400, [string, string, string]>(
  'SWITCHYARD_SPLIT_UNKNOWN_POOL',
  'route "%s" has no pool "%s" in its split (pools: %s)',
  400,
)

/** A runtime weight change with weights that are not non-negative integers, or all zero. */
export const BadSplitWeightsError = createError<'SWITCHYARD_SPLIT_BAD_WEIGHTS', 400, [string]>('SWITCHYARD_SPLIT_BAD_WEIGHTS', 'bad weights: %s', 400)

/** An admin call names a route the running configuration does not have. */
export const UnknownRouteError = createError<'SWITCHYARD_UNKNOWN_ROUTE', 404, [string]>('SWITCHYARD_UNKNOWN_ROUTE', 'unknown route "%s"', 404)

/** A route setting the routing layer cannot compile (the config loader should have refused it). */
export const BadRouteSettingError = createError<'SWITCHYARD_BAD_ROUTE_SETTING', 500, [string, string]>(
  'SWITCHYARD_BAD_ROUTE_SETTING',
  'route "%s": %s',
  500,
)
