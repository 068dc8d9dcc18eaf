/** Just enough cookie handling for the gateway's own cookies (RFC 6265 §4.2 syntax). */

/**
 * The value of cookie `name` in a Cookie header (RFC 6265 §5.4 pairs), without parsing the
 * others; an empty value counts as absent. Repeated Cookie fields arrive joined with "; ".
 */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  const h = Array.isArray(header) ? header.join('; ') : header
  let start = 0
  const len = h.length
  while (start < len) {
    let end = h.indexOf(';', start)
    if (end === -1) end = len
    const eq = h.indexOf('=', start)
    if (eq !== -1 && eq < end && h.slice(start, eq).trim() === name) {
      let v = h.slice(eq + 1, end).trim()
      if (v.length >= 2 && v.charCodeAt(0) === 0x22 && v.charCodeAt(v.length - 1) === 0x22) v = v.slice(1, -1)
      return v.length === 0 ? undefined : v
    }
    start = end + 1
  }
  return undefined
}

export function serializeCookie(name: string, value: string, maxAgeMs: number, secure: boolean): string {
  return `${name}=${value}; Path=/; Max-Age=${Math.floor(maxAgeMs / 1000)}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`
}

/** Append a Set-Cookie value to a header bag without losing earlier ones. */
export function appendSetCookie(bag: Record<string, string | string[]>, cookie: string): void {
  const prev = bag['set-cookie']
  if (prev === undefined) bag['set-cookie'] = cookie
  else if (Array.isArray(prev)) prev.push(cookie)
  else bag['set-cookie'] = [prev, cookie]
}
