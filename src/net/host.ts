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
