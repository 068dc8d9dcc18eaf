/**
 * Rate-limit response headers: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
 * (draft-ietf-httpapi-ratelimit-headers; Reset is delta-seconds) on every response of a limited
 * route, and `Retry-After` (RFC 9110 §10.2.3) on a 429.
 */
export interface RateLimitState {
  readonly limit: number
  readonly remaining: number
  /** Seconds until the window resets, at least 0. */
  readonly resetSeconds: number
}

export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  return {
    'ratelimit-limit': String(state.limit),
    'ratelimit-remaining': String(state.remaining),
    'ratelimit-reset': String(state.resetSeconds),
  }
}

/** Seconds a refused client should wait: never 0, which clients read as "retry now". */
export function retryAfterSeconds(state: RateLimitState): number {
  return Math.max(1, state.resetSeconds)
}
