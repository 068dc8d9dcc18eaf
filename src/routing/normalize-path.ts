/**
 * The one path normalisation of Switchyard, applied to the request target before route
 * matching, and the result is what the upstream receives (after rewritePrefix). Matching and
 * forwarding therefore see the same spelling: no alternative spelling of a path can match one
 * route and be read by the upstream as another. The decisions and their reasons are in
 * docs/routing.md; in short:
 *
 * - origin-form only (RFC 9112 §3.2.1): the target starts with "/"; `*` only for OPTIONS
 *   (§3.2.4); absolute-form and anything else is 400.
 * - Percent-encoding (RFC 3986 §6.2.2): escapes of unreserved characters are decoded
 *   (§6.2.2.2), the hex of the other escapes is upper-cased (§6.2.2.1); a malformed escape is
 *   400. Escapes that would change the path structure or smuggle bytes are 400: `%2F` (encoded
 *   "/"), `%5C` (encoded "\"), `%00`, and `%3B` (encoded ";").
 * - A literal "\" is 400 (some servers read it as "/"); a literal ";" is 400 (matrix
 *   parameters: servers such as Tomcat strip `;...` from every segment, so `/app/..;/admin`
 *   would be matched here as under /app and resolved upstream as /admin); "#" is 400 (a
 *   fragment is never part of a request target, RFC 9112 §3.2).
 * - Printable characters RFC 3986 does not allow in a path (`"<>[]^`{|}`) and non-ASCII
 *   characters (UTF-8) are percent-encoded, so every path has one spelling.
 * - Empty segments are removed (`//a///b` is `/a/b`), `.` and `..` segments are resolved
 *   (RFC 3986 §5.2.4), including their encoded forms once decoded, never above the root. A
 *   trailing "/" is kept: `/a/` and `/a` are different resources to many upstreams.
 * - Case is significant in the path (RFC 3986 §6.2.2.1): `/API` is not `/api`.
 * - The query is passed through as sent (it does not take part in path matching); only "#"
 *   is refused there.
 */
import { BadPathError } from './errors.js'

export interface NormalizedTarget {
  /** The normalised path: starts with "/" (or is `*` for `OPTIONS *`). */
  readonly path: string
  /** The raw query without "?", or "". */
  readonly query: string
}

// Per ASCII code: how a raw path character is treated.
const OK = 0 // copied as is
const ENCODE = 1 // printable but not allowed in a path: percent-encoded
const REJECT = 2 // never acceptable in a path
const PERCENT = 3
const DOT = 4
const SLASH = 5

const kind = new Uint8Array(128).fill(REJECT)
for (let c = 0x21; c < 0x7f; c++) kind[c] = ENCODE
for (const ch of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~!$&'()*+,=:@") kind[ch.charCodeAt(0)] = OK
kind[0x25] = PERCENT // %
kind[0x2e] = DOT // .
kind[0x2f] = SLASH // /
kind[0x5c] = REJECT // \
kind[0x3b] = REJECT // ;
kind[0x23] = REJECT // #

/** Whether the byte an escape stands for is unreserved (RFC 3986 §2.3), so decoding it is safe. */
const unreserved = new Uint8Array(128)
for (const ch of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~') unreserved[ch.charCodeAt(0)] = 1

const HEX = '0123456789ABCDEF'

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const l = c | 0x20
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10
  return -1
}

function rejectReason(c: number): string {
  if (c === 0x5c) return 'backslash in path'
  if (c === 0x3b) return 'semicolon (matrix parameter) in path'
  if (c === 0x23) return 'fragment in request target'
  return 'control character or space in path'
}

/**
 * Normalise a request target (`req.url`). Throws BadPathError (400) for a target that is
 * malformed or whose meaning would be ambiguous between the gateway and an upstream.
 * `method`, when given, restricts the asterisk-form `*` to OPTIONS.
 */
export function normalizePath(rawTarget: string, method?: string): NormalizedTarget {
  const q = rawTarget.indexOf('?')
  const end = q === -1 ? rawTarget.length : q
  const query = q === -1 ? '' : rawTarget.slice(q + 1)
  if (query.length !== 0 && query.includes('#')) throw new BadPathError('fragment in request target')

  if (rawTarget.charCodeAt(0) !== 0x2f) {
    if (rawTarget === '*' && (method === undefined || method === 'OPTIONS')) return { path: '*', query: '' }
    throw new BadPathError(rawTarget.length === 0 ? 'empty target' : 'target must start with "/"')
  }

  // Fast path: a target whose path has nothing to decode, encode, collapse or resolve is
  // returned as received. One pass, no allocation besides the result.
  let prev = 0
  for (let i = 0; i < end; i++) {
    const c = rawTarget.charCodeAt(i)
    const k = c < 128 ? kind[c] : ENCODE
    if (k === OK) {
      prev = c
      continue
    }
    if (k === SLASH) {
      if (prev === 0x2f) return slowPath(rawTarget, end, query)
      prev = c
      continue
    }
    if (k === DOT) {
      if (prev === 0x2f) return slowPath(rawTarget, end, query)
      prev = c
      continue
    }
    if (k === REJECT) throw new BadPathError(rejectReason(c))
    return slowPath(rawTarget, end, query)
  }
  return { path: q === -1 ? rawTarget : rawTarget.slice(0, end), query }
}

/**
 * Normalise a path written in configuration (route prefixes, rewritePrefix) with the same
 * rules, so a configured `/caf%c3%a9` or `/café` compares equal to the normalised request.
 */
export function normalizeConfiguredPath(path: string): string {
  return normalizePath(path).path
}

function slowPath(raw: string, end: number, query: string): NormalizedTarget {
  // Pass 1: character level (escapes, encodings, rejections).
  let s = ''
  let nonAscii = false
  for (let i = 0; i < end; i++) {
    const c = raw.charCodeAt(i)
    if (c >= 128) {
      // Only reachable from configuration or explain input: Node's parser refuses non-ASCII
      // request targets. Encode the run as UTF-8.
      let j = i + 1
      while (j < end && raw.charCodeAt(j) >= 128) j++
      try {
        s += encodeURIComponent(raw.slice(i, j))
      } catch {
        throw new BadPathError('invalid character in path')
      }
      i = j - 1
      continue
    }
    const k = kind[c]
    if (k === OK || k === DOT || k === SLASH) {
      s += raw[i]
    } else if (k === PERCENT) {
      const h = i + 2 < end ? hexValue(raw.charCodeAt(i + 1)) : -1
      const l = h === -1 ? -1 : hexValue(raw.charCodeAt(i + 2))
      if (l === -1) throw new BadPathError('malformed percent-encoding')
      const byte = (h << 4) | l
      if (byte < 128 && unreserved[byte] === 1) {
        s += String.fromCharCode(byte)
      } else if (byte === 0x2f || byte === 0x5c) {
        // Decoding would create a new segment boundary (or one, for servers that read "\"
        // as "/"); keeping it encoded would let `/admin%2F..` mean different paths to the
        // gateway and to an upstream that decodes before resolving dot segments.
        throw new BadPathError(byte === 0x2f ? 'encoded slash in path' : 'encoded backslash in path')
      } else if (byte === 0) {
        throw new BadPathError('encoded NUL in path')
      } else if (byte === 0x3b) {
        throw new BadPathError('encoded semicolon in path')
      } else {
        if (byte >= 0x80) nonAscii = true
        s += '%' + HEX[h] + HEX[l]
      }
      i += 2
    } else if (k === ENCODE) {
      s += '%' + HEX[c >> 4] + HEX[c & 15]
    } else {
      throw new BadPathError(rejectReason(c))
    }
  }

  // RFC 3986 §2.5: escaped non-ASCII octets are UTF-8. An invalid or overlong sequence
  // (`%C0%AE`, an old spelling of "." that lenient decoders resolve) has no one meaning: 400.
  if (nonAscii) {
    try {
      decodeURIComponent(s)
    } catch {
      throw new BadPathError('invalid UTF-8 in percent-encoding')
    }
  }

  // Pass 2: segment level. RFC 3986 §5.2.4 on an absolute path, with empty segments removed.
  const segments = s.split('/')
  const out: string[] = []
  let trailing = false
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]
    const last = i === segments.length - 1
    if (seg === '' || seg === '.') {
      trailing = last
    } else if (seg === '..') {
      out.pop()
      trailing = last
    } else {
      out.push(seg)
      trailing = false
    }
  }
  if (out.length === 0) return { path: '/', query }
  const path = '/' + out.join('/') + (trailing ? '/' : '')
  return { path, query }
}
