/**
 * The host a request names, as routing compares it: the Host header (or HTTP/2 :authority)
 * lower-cased, without port, without a trailing dot (RFC 1034 §3.1: `a.example.` is the fully
 * qualified spelling of `a.example`). IPv6 literals keep their brackets.
 */
export function routingHost(raw: string): string {
  let end = raw.length
  if (raw.charCodeAt(0) === 91 /* [ */) {
    const close = raw.indexOf(']')
    end = close < 0 ? raw.length : close + 1
  } else {
    const colon = raw.indexOf(':')
    if (colon >= 0) end = colon
  }
  if (end > 1 && raw.charCodeAt(end - 1) === 46 /* . */) end--
  return raw.slice(0, end).toLowerCase()
}

/**
 * Whether a Host header (or :authority) value is a host and an optional port, and nothing
 * else: RFC 9110 §7.2 and RFC 3986 §3.2.2, narrowed to what names a server: an IPv6 literal in
 * brackets, or dot-separated labels of letters, digits, `-` and `_` (one trailing dot allowed,
 * RFC 1034 §3.1), then `:port` with 1–5 digits. No userinfo (`evil@host`), no list
 * (`a,b`), no path (`a/x`), no backslash, no space, no empty label (`a..`).
 */
export function isValidHost(value: string): boolean {
  const n = value.length
  if (n === 0 || n > 255 + 6) return false
  let i = 0
  if (value.charCodeAt(0) === 91 /* [ */) {
    const close = value.indexOf(']')
    if (close < 3) return false
    for (i = 1; i < close; i++) {
      const c = value.charCodeAt(i)
      const ok = (c >= 48 && c <= 58) /* 0-9 : */ || (c >= 97 && c <= 102) || (c >= 65 && c <= 70) || c === 46
      if (!ok) return false
    }
    i = close + 1
  } else {
    let labelLength = 0
    for (; i < n; i++) {
      const c = value.charCodeAt(i)
      if (c === 58 /* : */) break
      if (c === 46 /* . */) {
        if (labelLength === 0) return false
        labelLength = 0
        continue
      }
      const ok = (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 45 || c === 95
      if (!ok || ++labelLength > 63) return false
    }
    // Empty host, or a dot right before the port or the end that follows another dot, was caught above.
    if (i === 0) return false
  }
  if (i === n) return true
  if (value.charCodeAt(i) !== 58) return false
  const digits = n - i - 1
  if (digits < 1 || digits > 5) return false
  let port = 0
  for (let j = i + 1; j < n; j++) {
    const c = value.charCodeAt(j)
    if (c < 48 || c > 57) return false
    port = port * 10 + (c - 48)
  }
  return port <= 65535
}

/** How many Host fields the raw header list carries (RFC 9112 §3.2: more than one is a 400). */
export function hostFieldCount(rawHeaders: readonly string[]): number {
  let count = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    if (name.length === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host')) count++
  }
  return count
}
