/**
 * RFC 9213 targeted cache control: response fields that carry Cache-Control directives for one
 * class of caches only. The gateway's target list is, in order of precedence, its own field
 * (`Switchyard-Cache-Control` unless `cache.targetedField` names another) and
 * `CDN-Cache-Control` (§3). The first of them with a valid, non-empty value decides the
 * gateway's caching policy, and Cache-Control and Expires are then ignored for it (§2.1);
 * clients and caches downstream still get Cache-Control unchanged.
 *
 * Targeted fields are Structured Field Dictionaries (RFC 8941 / RFC 9651): a field that does
 * not parse, or is empty, is ignored as if absent (§2.2), falling back to the next field on the
 * list, then to Surrogate-Control and Cache-Control. The directives mean what they mean in
 * Cache-Control (§2.1), with the types §2.2 gives them: delta-seconds directives are Integers;
 * one of another type (a String, a Decimal, a negative number) is malformed and, as in
 * Cache-Control here, counts as stale (never as longer freshness).
 *
 * Passing on (§2.1, §3): our own field is aimed at this gateway alone and is never sent to
 * clients (like Surrogate-Control). `CDN-Cache-Control` targets every CDN on the path, so it is
 * passed on unchanged for the ones in front of us.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { parseDictionary, Token, type Dictionary } from 'structured-headers'
import { INVALID, isDeltaSeconds, type Directives } from './cache-control.js'

/** RFC 9213 §3: the field every CDN (and so this gateway) answers to. */
export const CDN_CACHE_CONTROL = 'cdn-cache-control'
/** The gateway's own targeted field by default (`cache.targetedField`). */
export const DEFAULT_TARGETED_FIELD = 'Switchyard-Cache-Control'
/** Field names a targeted field of ours must not take: they mean something else already. */
export const RESERVED_TARGETED_FIELDS: ReadonlySet<string> = new Set(['cache-control', 'cdn-cache-control', 'surrogate-control', 'expires', 'pragma', 'age', 'vary'])

/** §2.1 target list: our own field first (it is the more specific), then CDN-Cache-Control. */
export function targetList(ownField: string): readonly string[] {
  const own = ownField.toLowerCase()
  return Object.freeze(own === CDN_CACHE_CONTROL ? [CDN_CACHE_CONTROL] : [own, CDN_CACHE_CONTROL])
}

export const DEFAULT_TARGET_LIST = targetList(DEFAULT_TARGETED_FIELD)

/**
 * The directives of the first targeted field on `targets` with a valid, non-empty value, or
 * undefined when none has one (the caller then falls back to Cache-Control).
 */
export function targetedDirectives(headers: IncomingHttpHeaders, targets: readonly string[]): Directives | undefined {
  for (const name of targets) {
    const raw = headers[name]
    if (raw === undefined) continue
    // Several field lines form one Dictionary (RFC 8941 §4.2).
    const text = typeof raw === 'string' ? raw : raw.join(', ')
    if (text.trim() === '') continue
    let dict: Dictionary
    try {
      dict = parseDictionary(text)
    } catch {
      continue // §2.2: a field that fails to parse is ignored
    }
    const out = directivesOf(dict)
    if (out.size > 0) return out
  }
  return undefined
}

function directivesOf(dict: Dictionary): Map<string, string | true> {
  const out = new Map<string, string | true>()
  for (const [name, member] of dict) {
    const value = member[0]
    if (value === false) continue // `?0`: the directive is off
    if (isDeltaSeconds(name)) {
      out.set(name, typeof value === 'number' && Number.isInteger(value) && value >= 0 ? String(value) : value === true ? true : INVALID)
    } else if (typeof value === 'string' || typeof value === 'number' || value instanceof Token) {
      out.set(name, value instanceof Token ? value.toString() : String(value))
    } else {
      out.set(name, true)
    }
  }
  return out
}
