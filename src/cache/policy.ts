/**
 * RFC 9111 decisions for a shared cache, from headers only (never from a path or file
 * extension). Storability and the explicit/Last-Modified freshness lifetime come from
 * http-cache-semantics (`CachePolicy`, `shared: true`); this module adds what it lacks or gets
 * wrong for a gateway (docs/caching.md lists each point):
 *   - the route `ttl` as heuristic freshness when the upstream gives none (§4.2.2);
 *   - `stale-while-revalidate` / `stale-if-error` from the route and RFC 5861 directives, and
 *     stale serving forbidden by must-revalidate, proxy-revalidate and no-cache (§4.2.4);
 *   - `must-revalidate` applies once stale only (the library revalidates even fresh entries);
 *   - `proxy-revalidate` forbids stale serving, it does not zero the lifetime (§5.2.2.8);
 *   - `immutable` grants no freshness by itself (RFC 8246; the library invents 24 h);
 *   - the age calculation of §4.2.3 (apparent age from Date, response delay), which the
 *     library skips, with an injectable clock;
 *   - final statuses the library does not know (e.g. 299, 500) are storable with explicit
 *     freshness (§3), unless `must-understand` (§5.2.2.3);
 *   - never stored: Set-Cookie, Vary: *, bodies over maxEntrySize (stricter than the RFC);
 *   - validation of a stored entry with a 304 (§4.3.3, §4.3.4) and client conditionals
 *     answered from a fresh entry (RFC 9110 §13.1.2, §13.1.3; RFC 9111 §4.3.2).
 */
import type { IncomingHttpHeaders } from 'node:http'
import CachePolicy from 'http-cache-semantics'
import { deltaMs, fieldValue, INVALID, parseCacheControl, type Directives, type RequestDirectives } from './cache-control.js'
import { parseHttpDate } from './http-date.js'
import { DEFAULT_TARGET_LIST, targetedDirectives } from './targeted.js'

/** The route's cache settings plus the global entry bound, normalised (ms, bytes). */
export interface CacheRules {
  /** Heuristic freshness when the upstream gives none; 0 = only what the headers allow. */
  readonly ttl: number
  readonly staleWhileRevalidate: number
  readonly staleIfError: number
  /**
   * How long past its lifetime a stale entry may be served while the origin cannot be reached
   * at all (RFC 9111 §4.2.4 "disconnected"). Default 0 here; the route default is 1 minute.
   */
  readonly staleIfDisconnected?: number
  readonly maxEntrySize: number
  /**
   * RFC 9213 target list, lower-cased, most specific first: the first field on it with a valid
   * value replaces Cache-Control and Expires for this cache. Default: Switchyard-Cache-Control,
   * CDN-Cache-Control.
   */
  readonly targets?: readonly string[]
  /** Store (and replay) responses carrying Set-Cookie (`cache.storeSetCookie`). Default false. */
  readonly storeSetCookie?: boolean
}

/**
 * When an entry was made and how long it may be reused. All times are epoch milliseconds on
 * the gateway's clock; durations are milliseconds.
 */
export interface FreshnessFacts {
  /** When the request that produced the response was sent (§4.2.3 request_time). */
  readonly requestTime: number
  /** When the response was received (§4.2.3 response_time). */
  readonly responseTime: number
  /** corrected_initial_age of §4.2.3. */
  readonly initialAge: number
  /** Freshness lifetime (§4.2.1); 0 = validate before every reuse. */
  readonly lifetime: number
  /** True when the lifetime is heuristic (route ttl or Last-Modified, §4.2.2). */
  readonly heuristic: boolean
  /** How long past the lifetime a stale entry may be served while refreshed in the background. */
  readonly staleWhileRevalidate: number
  /** How long past the lifetime a stale entry may be served when the origin fails. */
  readonly staleIfError: number
  /** How long past the lifetime it may be served when the origin cannot be reached (§4.2.4); absent = 0. */
  readonly staleIfDisconnected?: number
  /** Never serve stale (must-revalidate, proxy-revalidate, no-cache): a failure is a 504. */
  readonly mustRevalidate: boolean
}

export type NotStoredReason =
  | 'method'
  | 'status'
  | 'no-store'
  | 'private'
  | 'set-cookie'
  | 'authorization'
  | 'vary-star'
  | 'too-large'
  | 'must-understand'
  | 'no-freshness'

export type StoreDecision =
  | {
      readonly store: true
      readonly freshness: FreshnessFacts
      readonly vary: readonly string[]
      readonly tags: readonly string[]
      /** How long the store should keep the entry (fresh + stale windows + validator grace). */
      readonly retainMs: number
    }
  | { readonly store: false; readonly reason: NotStoredReason }

/** One request/response exchange with the upstream, headers only. */
export interface Exchange {
  readonly method: string
  /** The request headers as sent upstream (client headers plus the gateway's additions). */
  readonly requestHeaders: IncomingHttpHeaders
  readonly status: number
  readonly responseHeaders: IncomingHttpHeaders
  readonly requestTime: number
  readonly responseTime: number
}

/**
 * Entries with a validator outlive their stale windows by this much, so that a later request
 * can revalidate them with a cheap 304 instead of a full fetch. The byte bound still applies.
 */
export const VALIDATOR_GRACE_MS = 60 * 60 * 1000

/**
 * Every stored entry outlives its freshness and stale windows by at least this much, so that
 * a request's `max-stale` (§5.2.1.2) has something to accept. The byte bound still applies.
 */
export const MAX_STALE_GRACE_MS = 60 * 1000

// Statuses http-cache-semantics understands (it refuses to store any other).
const LIBRARY_UNDERSTOOD = new Set([200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501])
// Final statuses RFC 9110 defines: what `must-understand` (§5.2.2.3) asks a cache to know.
const RFC9110_STATUSES = new Set([
  200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407,
  408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 500, 501, 502, 503, 504, 505,
])
const DIGITS = /^[0-9]+$/
// Only these directives matter to CachePolicy; passing just them, re-serialised, keeps its naive
// parser away from quoted values and odd casing.
const POLICY_DIRECTIVES = ['public', 'private', 'no-store', 'no-cache', 'max-age', 's-maxage', 'must-revalidate']

export function isCacheableMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD'
}

/** Methods whose success invalidates stored responses of the target URI (§4.4). */
export function isUnsafeMethod(method: string): boolean {
  // §4.4 covers "methods whose safety is unknown" too: only the safe methods are exempt.
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS' && method !== 'TRACE'
}

/** Lower-cased Vary field names, deduplicated; `'*'` when Vary contains `*`. */
export function parseVary(value: string | readonly string[] | undefined): readonly string[] | '*' {
  const text = fieldValue(value)
  if (!text) return EMPTY
  const out: string[] = []
  for (const raw of text.split(',')) {
    const name = raw.trim().toLowerCase()
    if (!name) continue
    if (name === '*') return '*'
    if (!out.includes(name)) out.push(name)
  }
  return out
}

const EMPTY: readonly string[] = Object.freeze([])
const MAX_TAGS = 64
const MAX_TAG_LENGTH = 256

/** Purge tags from `Cache-Tag` (comma-separated; repeated field lines combine). */
export function parseCacheTags(value: string | readonly string[] | undefined): readonly string[] {
  const text = fieldValue(value)
  if (!text) return EMPTY
  const out: string[] = []
  for (const raw of text.split(',')) {
    const tag = raw.trim()
    if (tag && tag.length <= MAX_TAG_LENGTH && !out.includes(tag)) out.push(tag)
    if (out.length === MAX_TAGS) break
  }
  return out
}

/**
 * The Age field's value in seconds (RFC 9111 §5.1), or undefined when it is to be ignored.
 * Age is a singleton, but a list-based value (`0, 7200`, or two field lines) SHOULD be read by
 * its first member, the rest discarded; a first member that is not a non-negative integer
 * (`abc`, `-7200`, `7200.0`, `7200;foo=bar`) makes the cache ignore the field (as if absent).
 * Values past 2^31 are read as 2^31 (§1.2.2).
 */
export function ageSeconds(value: string | readonly string[] | undefined): number | undefined {
  if (value === undefined) return undefined
  const text = typeof value === 'string' ? value : value[0]
  if (text === undefined) return undefined
  const comma = text.indexOf(',')
  const first = (comma === -1 ? text : text.slice(0, comma)).trim()
  if (!DIGITS.test(first)) return undefined
  return Math.min(Number(first), 2147483648)
}

/** §4.2.3 corrected_initial_age, in ms. */
export function initialAge(headers: IncomingHttpHeaders, requestTime: number, responseTime: number): number {
  const ageValue = (ageSeconds(headers.age) ?? 0) * 1000
  const date = parseHttpDate(headers.date)
  const apparentAge = Number.isFinite(date) ? Math.max(0, responseTime - date) : 0
  const responseDelay = Math.max(0, responseTime - requestTime)
  return Math.max(apparentAge, ageValue + responseDelay)
}

/** §4.2.3 current_age of an entry at `now`, in ms. */
export function currentAge(f: FreshnessFacts, now: number): number {
  return f.initialAge + Math.max(0, now - f.responseTime)
}

/** Whether (and for how long) a response may be stored, from headers only. */
export function decideStore(ex: Exchange, rules: CacheRules): StoreDecision {
  if (!isCacheableMethod(ex.method)) return { store: false, reason: 'method' }
  const status = ex.status
  // Non-final, partial (no range support) and 304 (it updates, never creates) are not stored.
  if (status < 200 || status > 599 || status === 206 || status === 304) return { store: false, reason: 'status' }
  const res = ex.responseHeaders
  if (res['set-cookie'] !== undefined && rules.storeSetCookie !== true) return { store: false, reason: 'set-cookie' }
  const vary = parseVary(res.vary)
  if (vary === '*') return { store: false, reason: 'vary-star' }
  const length = res['content-length'] !== undefined ? Number(res['content-length']) : undefined
  if (length !== undefined && length > rules.maxEntrySize) return { store: false, reason: 'too-large' }

  // RFC 9213: a valid targeted field (ours, then CDN-Cache-Control) replaces Cache-Control and
  // Expires for this cache (§2.1). Else Surrogate-Control (W3C Edge Architecture) directives
  // aimed at this gateway do. Either way Cache-Control then speaks to caches downstream only.
  let cc = targetedDirectives(res, rules.targets ?? DEFAULT_TARGET_LIST)
  let useExpires = false
  if (cc === undefined) {
    const sc = surrogateDirectives(res['surrogate-control'])
    if (sc?.has('no-store')) return { store: false, reason: 'no-store' }
    cc = parseCacheControl(res['cache-control'])
    useExpires = res.expires !== undefined
    const scMaxAge = sc?.get('max-age')
    if (scMaxAge !== undefined) {
      const [fresh, stale] = typeof scMaxAge === 'string' ? scMaxAge.split('+') : ['0']
      const surrogate = new Map<string, string | true>([['max-age', fresh && DIGITS.test(fresh) ? fresh : INVALID]])
      if (stale !== undefined && DIGITS.test(stale)) surrogate.set('stale-if-error', stale)
      cc = surrogate
      useExpires = false
    }
  }
  const understood = LIBRARY_UNDERSTOOD.has(status)
  let noStore = cc.has('no-store')
  if (cc.has('must-understand')) {
    // §5.2.2.3: store only responses whose status code we understand; then no-store yields.
    if (!RFC9110_STATUSES.has(status)) {
      return { store: false, reason: 'must-understand' }
    }
    noStore = false
  }
  if (noStore) return { store: false, reason: 'no-store' }
  const reqCc = parseCacheControl(ex.requestHeaders['cache-control'])
  if (reqCc.has('no-store')) return { store: false, reason: 'no-store' }
  if (cc.has('private')) return { store: false, reason: 'private' }

  const explicit = cc.has('s-maxage') || cc.has('max-age') || useExpires
  const policy = new CachePolicy(
    { method: 'GET', url: '/', headers: policyRequestHeaders(ex.requestHeaders) },
    // A final status the library does not know is storable with explicit freshness or
    // `public` (§3, §4.2.2); the library is shown a 200 then, whose only other effect (being
    // heuristically cacheable) is what `public` grants anyway.
    { status: understood || !(explicit || cc.has('public')) ? status : 200, headers: policyResponseHeaders(res, cc, noStore, useExpires) },
    { shared: true, immutableMinTimeToLive: 0 },
  )
  if (!policy.storable()) {
    if (ex.requestHeaders.authorization !== undefined && !allowsAuthorized(cc)) return { store: false, reason: 'authorization' }
    return { store: false, reason: 'status' }
  }

  const noCache = cc.has('no-cache')
  const mustRevalidate = noCache || cc.has('must-revalidate') || cc.has('proxy-revalidate')
  let lifetime: number
  let heuristic = false
  if (noCache) lifetime = 0
  else if (explicit) lifetime = explicitLifetime(cc, res, useExpires, ex.responseTime)
  else if (rules.ttl > 0) {
    lifetime = rules.ttl
    heuristic = true
  } else {
    lifetime = Math.round(policy.maxAge() * 1000)
    heuristic = lifetime > 0
  }

  // Stale windows: the response's RFC 5861 directives win; the route's are defaults. s-maxage
  // implies proxy-revalidate (§5.2.2.10), so route defaults do not apply to it, but the origin's
  // own explicit stale-* directives next to it do (the common CDN pattern).
  let swr = 0
  let sie = 0
  let sid = 0
  if (!mustRevalidate) {
    const impliedNoStale = cc.has('s-maxage')
    swr = deltaMs(cc, 'stale-while-revalidate') ?? (impliedNoStale ? 0 : rules.staleWhileRevalidate)
    sie = deltaMs(cc, 'stale-if-error') ?? (impliedNoStale ? 0 : rules.staleIfError)
    // §4.2.4 lets a cache serve stale while disconnected from the origin, unless a directive
    // forbids it (must-revalidate, proxy-revalidate, no-cache, s-maxage); an origin's own
    // stale-if-error covers disconnection too.
    sid = Math.max(sie, impliedNoStale ? 0 : (rules.staleIfDisconnected ?? 0))
  }

  const age = initialAge(res, ex.requestTime, ex.responseTime)
  const hasValidator = res.etag !== undefined || res['last-modified'] !== undefined
  const remaining = Math.max(0, lifetime - age)
  const usefulFor = remaining + staleUse(Math.max(swr, sie), lifetime, age)
  if (usefulFor <= 0 && !hasValidator) return { store: false, reason: 'no-freshness' }
  // The disconnected window keeps what is stored anyway a little longer; it never makes an
  // otherwise useless response worth storing.
  const keepFor = Math.max(usefulFor, remaining + staleUse(sid, lifetime, age))

  return {
    store: true,
    freshness: {
      requestTime: ex.requestTime,
      responseTime: ex.responseTime,
      initialAge: age,
      lifetime,
      heuristic,
      staleWhileRevalidate: swr,
      staleIfError: sie,
      staleIfDisconnected: sid,
      mustRevalidate,
    },
    vary,
    tags: parseCacheTags(res['cache-tag']),
    retainMs: keepFor + (hasValidator ? VALIDATOR_GRACE_MS : MAX_STALE_GRACE_MS),
  }
}

/** How much of a stale window past `lifetime` is still ahead of a response `age` old. */
function staleUse(window: number, lifetime: number, age: number): number {
  return Math.max(0, Math.min(window, lifetime + window - age))
}

/** The token this gateway answers to in `Surrogate-Control: max-age=60;switchyard`. */
export const SURROGATE_TARGET = 'switchyard'
/** What the gateway announces upstream (Edge Architecture Surrogate-Capability). */
export const SURROGATE_CAPABILITY = `${SURROGATE_TARGET}="Surrogate/1.0"`

/**
 * Surrogate-Control directives aimed at this gateway: untargeted ones, and `;switchyard`
 * ones, which win over untargeted ones of the same name. Undefined when there are none.
 */
export function surrogateDirectives(value: string | readonly string[] | undefined): Directives | undefined {
  const text = fieldValue(value)
  if (!text) return undefined
  const general = new Map<string, string | true>()
  const mine = new Map<string, string | true>()
  for (const part of text.split(',')) {
    const semi = part.indexOf(';')
    const target = semi === -1 ? '' : part.slice(semi + 1).trim()
    if (target !== '' && target !== SURROGATE_TARGET) continue
    const directive = (semi === -1 ? part : part.slice(0, semi)).trim()
    const eq = directive.indexOf('=')
    const name = (eq === -1 ? directive : directive.slice(0, eq)).trim().toLowerCase()
    if (!name) continue
    const v: string | true = eq === -1 ? true : directive.slice(eq + 1).trim()
    ;(target === '' ? general : mine).set(name, v)
  }
  for (const [k, v] of mine) general.set(k, v)
  return general.size ? general : undefined
}

// §3.5: a shared cache may store a response to an authorized request only when the response
// says so.
function allowsAuthorized(cc: Directives): boolean {
  return cc.has('public') || cc.has('s-maxage') || cc.has('must-revalidate')
}

function explicitLifetime(cc: Directives, res: IncomingHttpHeaders, useExpires: boolean, responseTime: number): number {
  // §4.2.1: s-maxage (shared caches), then max-age, then Expires - Date.
  const s = deltaMs(cc, 's-maxage')
  if (s !== undefined) return s
  const m = deltaMs(cc, 'max-age')
  if (m !== undefined) return m
  if (!useExpires) return 0
  const expires = parseHttpDate(fieldValue(res.expires))
  // An invalid Expires (e.g. "0") means already expired (§5.3).
  if (!Number.isFinite(expires)) return 0
  // A missing or invalid Date is replaced by the time the response was received (RFC 9110 §6.6.1).
  const date = parseHttpDate(res.date)
  return Math.max(0, expires - (Number.isFinite(date) ? date : responseTime))
}

function policyRequestHeaders(h: IncomingHttpHeaders): CachePolicy.Headers {
  const out: CachePolicy.Headers = {}
  if (h.authorization !== undefined) out.authorization = 'present'
  return out
}

function policyResponseHeaders(res: IncomingHttpHeaders, cc: Directives, noStore: boolean, useExpires: boolean): CachePolicy.Headers {
  const parts: string[] = []
  for (const name of POLICY_DIRECTIVES) {
    const v = cc.get(name)
    if (v === undefined || (name === 'no-store' && !noStore)) continue
    if (v === INVALID) parts.push(`${name}=0`)
    else if (v === true || name === 'no-cache' || name === 'private') parts.push(name)
    else parts.push(`${name}=${v}`)
  }
  const out: CachePolicy.Headers = {}
  if (parts.length) out['cache-control'] = parts.join(', ')
  if (useExpires) out.expires = fieldValue(res.expires)
  // The library reads dates with the lenient Date.parse: hand it only valid HTTP-dates.
  const date = parseHttpDate(res.date)
  if (Number.isFinite(date)) out.date = new Date(date).toUTCString()
  const lm = parseHttpDate(res['last-modified'])
  if (Number.isFinite(lm)) out['last-modified'] = new Date(lm).toUTCString()
  return out
}

/** What to do with a stored entry for a presented request. */
export type Verdict =
  /** Fresh (and acceptable to the request): serve it. */
  | 'fresh'
  /** Stale within stale-while-revalidate: serve it and refresh in the background, once. */
  | 'stale-while-revalidate'
  /** Stale, but the request's max-stale accepts it: serve it. */
  | 'stale-allowed'
  /** Must go to the origin first (conditionally when the entry has a validator). */
  | 'revalidate'

/** §4, §4.2.4, §5.2.1 and RFC 5861 §3: may this entry satisfy this request now? */
export function evaluate(f: FreshnessFacts, req: RequestDirectives, now: number): Verdict {
  if (req.noCache) return 'revalidate'
  const age = currentAge(f, now)
  if (req.maxAge !== undefined && (req.maxAge === 0 || age > req.maxAge)) return 'revalidate'
  if (age < f.lifetime) {
    if (req.minFresh !== undefined && f.lifetime - age < req.minFresh) return 'revalidate'
    return 'fresh'
  }
  if (f.mustRevalidate) return 'revalidate'
  if (req.maxStale !== undefined && age - f.lifetime <= req.maxStale) return 'stale-allowed'
  if (age < f.lifetime + f.staleWhileRevalidate) return 'stale-while-revalidate'
  return 'revalidate'
}

/**
 * RFC 5861 §4 / RFC 9111 §4.2.4: may this entry be served because the origin failed? An origin
 * that could not be reached at all (`disconnected`: connection refused or reset, no backend
 * available) allows the longer of stale-if-error and stale-if-disconnected.
 */
export function mayServeStaleOnError(f: FreshnessFacts, now: number, disconnected = false): boolean {
  if (f.mustRevalidate) return false
  const window = disconnected ? Math.max(f.staleIfError, f.staleIfDisconnected ?? 0) : f.staleIfError
  return currentAge(f, now) < f.lifetime + window
}

/** Conditional request headers to validate a stored response (§4.3.1). Empty when it has no validator. */
export function validationHeaders(stored: Readonly<Record<string, string | readonly string[]>>): Record<string, string> {
  const out: Record<string, string> = {}
  const etag = fieldValue(stored.etag)
  const lm = fieldValue(stored['last-modified'])
  if (etag) out['if-none-match'] = etag
  if (lm) out['if-modified-since'] = lm
  return out
}

export function hasValidator(stored: Readonly<Record<string, string | readonly string[]>>): boolean {
  return stored.etag !== undefined || stored['last-modified'] !== undefined
}

/**
 * §4.3.4: whether a 304 applies to the stored response. A strong ETag must match strongly, a
 * weak one weakly, else Last-Modified must match. A 304 carrying no validator at all is taken
 * as applying (many origins omit them; there is one stored response per key).
 */
export function notModifiedMatches(stored: Readonly<Record<string, string | readonly string[]>>, res: IncomingHttpHeaders): boolean {
  const newTag = fieldValue(res.etag)
  const oldTag = fieldValue(stored.etag)
  if (newTag) {
    if (!oldTag) return false
    if (!newTag.startsWith('W/') && !oldTag.startsWith('W/')) return newTag === oldTag
    return opaque(newTag) === opaque(oldTag)
  }
  const newLm = res['last-modified']
  if (newLm) return fieldValue(stored['last-modified']) === newLm
  return true
}

// Fields a 304 never replaces: they describe the stored body, which the 304 does not carry
// (§3.2), plus hop-by-hop fields.
const NOT_UPDATED = new Set(['content-length', 'content-encoding', 'content-range', 'content-md5', 'transfer-encoding', 'connection', 'keep-alive', 'age'])

/** §3.2: the stored headers updated with those of a 304 (or a HEAD response). */
export function updatedHeaders(
  stored: Readonly<Record<string, string | readonly string[]>>,
  res: IncomingHttpHeaders,
): Record<string, string | readonly string[]> {
  const out: Record<string, string | readonly string[]> = { ...stored }
  for (const name in res) {
    const v = res[name]
    if (v === undefined || NOT_UPDATED.has(name)) continue
    out[name] = v
  }
  return out
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag
}

/**
 * RFC 9110 §13.1.2 / §13.1.3 (with RFC 9111 §4.3.2 for caches): does a client's conditional GET
 * or HEAD match the stored response, so a 304 is the answer? If-None-Match uses weak comparison
 * and, when present, If-Modified-Since is ignored (§13.2.2).
 */
export function clientNotModified(
  stored: Readonly<Record<string, string | readonly string[]>>,
  req: IncomingHttpHeaders,
  responseTime: number,
): boolean {
  const inm = req['if-none-match']
  if (inm !== undefined) {
    const etag = fieldValue(stored.etag)
    if (inm.trim() === '*') return true
    if (!etag) return false
    const want = opaque(etag)
    for (const t of inm.split(',')) if (opaque(t.trim()) === want) return true
    return false
  }
  const ims = req['if-modified-since']
  if (ims === undefined) return false
  const since = parseHttpDate(ims)
  if (!Number.isFinite(since)) return false
  const lm = fieldValue(stored['last-modified']) ?? fieldValue(stored.date)
  const modified = lm ? parseHttpDate(lm) : responseTime
  return Number.isFinite(modified) && modified <= since
}

/** Fields a 304 from the cache carries (RFC 9110 §15.4.5), taken from the stored response. */
export const NOT_MODIFIED_FIELDS = ['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified'] as const
