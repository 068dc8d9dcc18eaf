/**
 * Per-route claim policy, compiled once per route: which claims a verified token must carry
 * (403 otherwise) and which claims are forwarded upstream as headers.
 */
import type { RouteJwtSettings } from '../config/model.js'
import type { Claims } from './jwt-verifier.js'

type Required = readonly [claim: string, value: string | number | boolean]

export interface CompiledRouteJwt {
  readonly required: boolean
  /** The first claim the token fails, or undefined when it satisfies them all. */
  missingClaim(claims: Claims): string | undefined
  /** Header values for the upstream, from the claims the token has (absent claims send nothing). */
  forwardHeaders(claims: Claims): Record<string, string> | undefined
  /** Every header name forwardClaims sets: a client-sent copy is always dropped. */
  readonly forwardedHeaderNames: readonly string[]
}

const compiled = new WeakMap<RouteJwtSettings, CompiledRouteJwt>()

/** Compile (memoised on the frozen settings object, so a route compiles once per config). */
export function compileRouteJwt(settings: RouteJwtSettings): CompiledRouteJwt {
  let out = compiled.get(settings)
  if (out === undefined) {
    out = build(settings)
    compiled.set(settings, out)
  }
  return out
}

function build(settings: RouteJwtSettings): CompiledRouteJwt {
  const requirements: readonly Required[] = Object.entries(settings.claims)
  const forwards: readonly (readonly [claim: string, header: string])[] = Object.entries(settings.forwardClaims)
  return {
    required: settings.required,
    forwardedHeaderNames: forwards.map(([, h]) => h),
    missingClaim(claims) {
      for (const [claim, value] of requirements) {
        if (!claimSatisfies(claims[claim], value)) return claim
      }
      return undefined
    },
    forwardHeaders(claims) {
      if (forwards.length === 0) return undefined
      let out: Record<string, string> | undefined
      for (const [claim, header] of forwards) {
        const v = headerValue(claims[claim])
        if (v !== undefined) (out ??= {})[header] = v
      }
      return out
    },
  }
}

/**
 * A claim satisfies a required value when it equals it, or, for an array or a space-separated
 * string (the OAuth `scope` form, RFC 8693 §4.2), contains it.
 */
export function claimSatisfies(actual: unknown, wanted: string | number | boolean): boolean {
  if (actual === wanted) return true
  if (Array.isArray(actual)) {
    for (const item of actual) if (item === wanted) return true
    return false
  }
  if (typeof actual === 'string' && typeof wanted === 'string') return containsWord(actual, wanted)
  return false
}

/** Whether `list` has `word` as one of its space-separated entries, without splitting. */
function containsWord(list: string, word: string): boolean {
  if (word.length === 0) return false
  let from = 0
  for (;;) {
    const at = list.indexOf(word, from)
    if (at === -1) return false
    const end = at + word.length
    if ((at === 0 || list.charCodeAt(at - 1) === 32) && (end === list.length || list.charCodeAt(end) === 32)) return true
    from = at + 1
  }
}

/**
 * A claim as a header value: strings as they are, numbers and booleans printed, arrays joined
 * with ", " (RFC 9110 §5.3 list form), objects as JSON. A value Node would refuse in a header
 * (control characters, CR/LF) is not forwarded at all rather than crash the request.
 */
export function headerValue(v: unknown): string | undefined {
  let s: string
  if (typeof v === 'string') s = v
  else if (typeof v === 'number' || typeof v === 'boolean') s = String(v)
  else if (Array.isArray(v)) s = v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ')
  else if (v !== null && typeof v === 'object') s = JSON.stringify(v)
  else return undefined
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    // RFC 9110 §5.5: field-vchar / SP / HTAB; obs-text (0x80-0xFF) allowed, nothing above a byte.
    if ((c < 32 && c !== 9) || c === 127 || c > 255) return undefined
  }
  return s
}
