/**
 * Cache-Control parsing (RFC 9111 §5.2), stricter than http-cache-semantics' own parser, which
 * splits on every comma (breaking quoted values such as `no-cache="a, b"`), keeps directive
 * names in their original case, lets a later duplicate win and accepts `max-age=10s` as 10.
 * Here: names are case-insensitive (§5.2), quoted strings may hold commas, and a delta-seconds
 * directive that is malformed or given twice with different values is invalid (§1.2.2, §4.2.1),
 * which the caller treats as "already stale".
 */
import type { IncomingHttpHeaders } from 'node:http'

export type Directives = ReadonlyMap<string, string | true>

/** Marker for an invalid delta-seconds value; freshness directives carrying it mean "stale". */
export const INVALID = '\u0000invalid'

const DELTA_SECONDS = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error', 'max-stale', 'min-fresh'])
const DIGITS = /^[0-9]+$/
const PRAGMA_NO_CACHE = /(?:^|,)\s*no-cache\s*(?:,|$)/i
// §1.2.2: a delta-seconds larger than the greatest integer a recipient can represent is 2^31.
const DELTA_MAX = 2147483648

/** Whether a directive takes delta-seconds (RFC 9111 §1.2.2). */
export function isDeltaSeconds(name: string): boolean {
  return DELTA_SECONDS.has(name)
}

/** One header value as a string: repeated field lines are combined with ", " (RFC 9110 §5.3). */
export function fieldValue(v: string | readonly string[] | undefined): string | undefined {
  if (v === undefined) return undefined
  if (typeof v === 'string') return v
  return v.length === 0 ? undefined : v.join(', ')
}

/** Parse a Cache-Control field value (string or repeated lines). */
export function parseCacheControl(value: string | readonly string[] | undefined): Directives {
  const out = new Map<string, string | true>()
  const text = fieldValue(value)
  if (!text) return out
  let i = 0
  const n = text.length
  while (i < n) {
    // directive name
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === ',')) i++
    const start = i
    while (i < n && text[i] !== '=' && text[i] !== ',') i++
    const name = text.slice(start, i).trim().toLowerCase()
    let val: string | true = true
    if (i < n && text[i] === '=') {
      i++
      while (i < n && (text[i] === ' ' || text[i] === '\t')) i++
      if (text[i] === '"') {
        i++
        let s = ''
        while (i < n && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < n) i++
          s += text[i]
          i++
        }
        i++ // closing quote
        while (i < n && text[i] !== ',') i++
        val = s
      } else {
        const vs = i
        while (i < n && text[i] !== ',') i++
        val = text.slice(vs, i).trim()
      }
    }
    if (!name) continue
    if (DELTA_SECONDS.has(name) && val !== true) {
      if (!DIGITS.test(val)) val = INVALID
      const prev = out.get(name)
      if (prev !== undefined && prev !== val) val = INVALID
    } else if (DELTA_SECONDS.has(name) && out.has(name)) {
      val = INVALID
    }
    if (!out.has(name) || DELTA_SECONDS.has(name)) out.set(name, val)
  }
  return out
}

/**
 * A delta-seconds directive in milliseconds: undefined when absent, 0 when invalid (so that a
 * freshness lifetime built from it is stale), capped at 2^31 seconds.
 */
export function deltaMs(d: Directives, name: string): number | undefined {
  const v = d.get(name)
  if (v === undefined) return undefined
  if (v === true || v === INVALID) return 0
  const n = Number(v)
  return Math.min(n, DELTA_MAX) * 1000
}

/** Request Cache-Control as the policy needs it (RFC 9111 §5.2.1), with Pragma: no-cache (§5.4). */
export interface RequestDirectives {
  readonly noCache: boolean
  readonly noStore: boolean
  /** ms; undefined when absent. */
  readonly maxAge: number | undefined
  /** ms; Infinity for a bare `max-stale`; undefined when absent. */
  readonly maxStale: number | undefined
  /** ms; undefined when absent. */
  readonly minFresh: number | undefined
  readonly onlyIfCached: boolean
}

const NO_DIRECTIVES: RequestDirectives = Object.freeze({
  noCache: false,
  noStore: false,
  maxAge: undefined,
  maxStale: undefined,
  minFresh: undefined,
  onlyIfCached: false,
})

export function requestDirectives(headers: IncomingHttpHeaders): RequestDirectives {
  const cc = headers['cache-control']
  if (cc === undefined) {
    // §5.4: Pragma: no-cache counts only when Cache-Control is absent.
    const pragma = headers.pragma
    if (pragma !== undefined && PRAGMA_NO_CACHE.test(pragma)) return { ...NO_DIRECTIVES, noCache: true }
    return NO_DIRECTIVES
  }
  const d = parseCacheControl(cc)
  if (d.size === 0) return NO_DIRECTIVES
  const maxStaleRaw = d.get('max-stale')
  return {
    noCache: d.has('no-cache'),
    noStore: d.has('no-store'),
    maxAge: invalidAsUndefined(d, 'max-age'),
    maxStale: maxStaleRaw === true ? Infinity : invalidAsUndefined(d, 'max-stale'),
    minFresh: invalidAsUndefined(d, 'min-fresh'),
    onlyIfCached: d.has('only-if-cached'),
  }
}

// An invalid request directive is ignored rather than read as 0: a client's typo must not turn
// into "accept nothing" or "accept anything".
function invalidAsUndefined(d: Directives, name: string): number | undefined {
  const v = d.get(name)
  if (v === undefined || v === true || v === INVALID) return undefined
  return Math.min(Number(v), DELTA_MAX) * 1000
}
