/**
 * `Location` and `Refresh` answers that name the backend's own origin are rewritten to the
 * client-facing origin, as NGINX's `proxy_redirect default` does. A backend builds absolute
 * redirects from the Host it received, which (without `passHost`) is its own address:
 * `Location: http://10.0.0.7:8080/login` would send the client to an address it cannot reach
 * and tell it how the inside of the network looks.
 *
 * Only a URL whose scheme, host and port are exactly the backend's is touched; any other
 * absolute URL (another site, an identity provider) and every relative one pass unchanged.
 * Runs only when the answer carries one of the two headers: nothing for ordinary answers.
 */
import type { IncomingHttpHeaders } from 'node:http'

/** The origin the client used: its scheme and Host (or `""`: a path-only reference then). */
export function clientOrigin(protocol: 'http' | 'https', host: string | undefined): string {
  return host === undefined || host === '' ? '' : `${protocol}://${host}`
}

/**
 * The spellings of a backend's origin that a redirect may use: the URL's origin, and with the
 * scheme's default port written out (`http://b:80`), lower-case.
 */
function originSpellings(url: URL): string[] {
  const origin = url.origin.toLowerCase()
  if (url.port !== '') return [origin]
  return [origin, `${origin}:${url.protocol === 'https:' ? 443 : 80}`]
}

/** `value` with a leading backend origin replaced by `client`, or undefined when it names none. */
export function rewriteBackendUrl(value: string, backend: URL, client: string): string | undefined {
  const lower = value.slice(0, backend.origin.length + 6).toLowerCase()
  for (const prefix of originSpellings(backend)) {
    if (!lower.startsWith(prefix)) continue
    const rest = value.slice(prefix.length)
    // The origin must end there: `http://b:80` is not a prefix of `http://b:8080/`.
    const next = rest.charCodeAt(0)
    if (rest.length === 0) return client === '' ? '/' : `${client}/`
    if (next === 47 /* / */ || next === 63 /* ? */ || next === 35 /* # */) return (client === '' && next !== 47 ? '/' : client) + rest
  }
  return undefined
}

/** `Refresh: 5; url=http://backend/x` (HTML's refresh syntax): the URL part, in group 3. */
const REFRESH = /^(\s*\d+(?:\.\d*)?\s*[;,]\s*(?:url\s*=\s*)?)(['"]?)(.*)$/i

/**
 * Rewrite `location` and `refresh` in `headers` (lower-case names, as filtered for the client)
 * in place. `backend` is the URL of the backend that answered, `client` the client-facing
 * origin (clientOrigin).
 */
export function rewriteRedirects(headers: IncomingHttpHeaders, backend: URL, client: string): void {
  const location = headers.location
  if (typeof location === 'string') {
    const r = rewriteBackendUrl(location, backend, client)
    if (r !== undefined) headers.location = r
  }
  const refresh = headers.refresh
  if (typeof refresh === 'string') {
    const m = REFRESH.exec(refresh)
    if (m !== null) {
      const r = rewriteBackendUrl(m[3]!, backend, client)
      if (r !== undefined) headers.refresh = m[1]! + m[2]! + r
    }
  }
}
