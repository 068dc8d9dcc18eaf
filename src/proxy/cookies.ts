/** Just enough cookie handling for the gateway's own cookies (RFC 6265 §4.2 syntax). */

/** The value of cookie `name` in a Cookie header, without parsing the others. */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  const h = Array.isArray(header) ? header.join('; ') : header
  let from = 0
  for (;;) {
    const at = h.indexOf(name, from)
    if (at < 0) return undefined
    const before = at === 0 ? ';' : h[at - 1]
    const eq = at + name.length
    if ((before === ';' || before === ' ') && h[eq] === '=') {
      const end = h.indexOf(';', eq + 1)
      let v = h.slice(eq + 1, end < 0 ? undefined : end).trim()
      if (v.length >= 2 && v[0] === '"' && v[v.length - 1] === '"') v = v.slice(1, -1)
      return v
    }
    from = at + 1
  }
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
