/**
 * What a pool's `retry` settings mean for one failed try, compiled once per settings object
 * (a reload builds new settings; the WeakMap lets the old plan go with them).
 *
 * - Conditions: failure kinds (`connect-error`, `reset`, `timeout`), status codes, and the
 *   classes `4xx` and `5xx`. `5xx` is Envoy's `5xx` retry-on: any 5xx answer, and no answer
 *   at all (connect failure, reset, timeout). A per-try timeout is a gateway timeout, so 504 in
 *   the list (as in the defaults) retries it too.
 * - A 503 carrying `Retry-After` is the backend asking for time (RFC 9110 §10.2.3): it is
 *   passed on, not retried, unless `honorRetryAfter: false` (NGINX and HAProxy do not retry a
 *   503 by default at all).
 * - Backoff between tries: exponential with full jitter (AWS Architecture Blog, "Exponential
 *   Backoff And Jitter"): the n-th retry waits a uniform draw in [0, min(max, base × 2^(n-1))),
 *   so retries of many requests failing together spread out instead of arriving in waves.
 */
import type { RetrySettings } from '../config/model.js'

export interface RetryPlan {
  readonly connectError: boolean
  readonly reset: boolean
  readonly timeout: boolean
  readonly statuses: ReadonlySet<number>
  readonly any4xx: boolean
  readonly any5xx: boolean
  readonly honorRetryAfter: boolean
  /** ms; 0 = none (the response timeout bounds each try). */
  readonly perTryTimeout: number
  readonly backoffBase: number
  readonly backoffMax: number
}

const plans = new WeakMap<RetrySettings, RetryPlan>()

export function retryPlan(retry: RetrySettings): RetryPlan {
  let plan = plans.get(retry)
  if (plan === undefined) {
    const on = retry.on
    const any5xx = on.includes('5xx')
    const statuses = new Set(on.filter((c): c is number => typeof c === 'number'))
    plan = {
      connectError: any5xx || on.includes('connect-error'),
      reset: any5xx || on.includes('reset'),
      timeout: any5xx || on.includes('timeout') || statuses.has(504),
      statuses,
      any4xx: on.includes('4xx'),
      any5xx,
      honorRetryAfter: retry.honorRetryAfter !== false,
      perTryTimeout: retry.perTryTimeout !== undefined && retry.perTryTimeout > 0 ? retry.perTryTimeout : 0,
      backoffBase: retry.backoff?.base ?? 0,
      backoffMax: retry.backoff?.max ?? 0,
    }
    plans.set(retry, plan)
  }
  return plan
}

/** Whether an answer with `status` may be retried on another backend (method rules aside). */
export function statusRetryable(plan: RetryPlan, status: number, retryAfter: unknown): boolean {
  if (status === 503 && retryAfter !== undefined && plan.honorRetryAfter) return false
  if (plan.statuses.has(status)) return true
  return status >= 500 ? plan.any5xx : status >= 400 && plan.any4xx
}

/** Whether a try that failed with `kind` may be retried (method rules aside). */
export function failureRetryable(plan: RetryPlan, kind: string): boolean {
  return kind === 'connect-error' ? plan.connectError : kind === 'reset' ? plan.reset : kind === 'timeout' && plan.timeout
}

/**
 * The wait before retry number `n` (1 for the first retry): full jitter over an exponentially
 * growing cap. `random` returns [0, 1) (Math.random in production; injected in tests).
 */
export function backoffDelay(plan: Pick<RetryPlan, 'backoffBase' | 'backoffMax'>, n: number, random: () => number): number {
  if (plan.backoffBase <= 0 || n < 1) return 0
  const cap = Math.min(plan.backoffMax, plan.backoffBase * 2 ** Math.min(n - 1, 30))
  return Math.floor(random() * cap)
}
