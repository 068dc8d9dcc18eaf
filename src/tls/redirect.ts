/**
 * `server.tls.redirectHttp`: the plain listener answers every request with 308 Permanent
 * Redirect (RFC 9110 §15.4.9: unlike 301, the method and body are kept) to the same host,
 * path and query over https. It runs in front of the data-plane app, so no route, auth or
 * upstream is involved, and only on the plain data-plane listener: the admin listener has its
 * own server and is never redirected.
 *
 * The plain listener also drops client-sent copies of the client-certificate headers: a
 * request that did not come over TLS has no verified certificate, whatever it claims.
 */
import type { RequestListener, ServerFactory } from '../net/server-factory.js'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { errorBody } from '../errors.js'
import { dropClientCertHeaders } from './client-cert.js'

/** host[:port]: a DNS name or IPv4 literal, or a bracketed IPv6 literal (RFC 9110 §7.2). */
const HOST_HEADER = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(?::[0-9]{1,5})?$/

/**
 * The https URL for a plain request, or undefined when the Host or target cannot make one
 * (a malformed Host must not be echoed into a Location: that would be an open redirect).
 * The port is omitted when it is 443, the https default (RFC 9110 §4.2.2).
 */
export function httpsLocation(host: string | undefined, target: string | undefined, httpsPort: number): string | undefined {
  if (host === undefined || !HOST_HEADER.test(host)) return undefined
  if (target === undefined || target.charCodeAt(0) !== 47 /* / */) return undefined
  const close = host.lastIndexOf(']')
  const colon = host.lastIndexOf(':')
  const name = colon > close ? host.slice(0, colon) : host
  return httpsPort === 443 ? `https://${name}${target}` : `https://${name}:${httpsPort}${target}`
}

function redirect(req: IncomingMessage, res: ServerResponse, httpsPort: number): void {
  const location = httpsLocation(req.headers.host, req.url, httpsPort)
  if (location === undefined) {
    const body = errorBody(400, 'cannot redirect to https: missing or malformed Host or request target')
    res.writeHead(400, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' })
    res.end(body)
    return
  }
  res.writeHead(308, { location, 'content-length': 0 })
  res.end()
}

/**
 * Wrap the plain listener's server factory. `httpsPort()` is read per request: the https port
 * to redirect to when `redirectHttp` is on (the TLS listener's bound port), else undefined.
 */
export function withHttpsRedirect(inner: ServerFactory, httpsPort: () => number | undefined): ServerFactory {
  return (handler: RequestListener, opts) => {
    const wrapped = ((req: IncomingMessage, res: ServerResponse) => {
      const port = httpsPort()
      if (port !== undefined) return redirect(req, res, port)
      dropClientCertHeaders(req.headers)
      return handler(req, res)
    }) as RequestListener
    const server = inner(wrapped, opts) as unknown as Server & { shouldUpgradeCallback?: (req: IncomingMessage) => boolean }
    // Upgrade requests skip the 'request' handler: strip forged certificate headers there too,
    // ahead of the upgrade router.
    server.prependListener('upgrade', (req: IncomingMessage) => dropClientCertHeaders(req.headers))
    // Upgrades (WebSocket) bypass 'request'; while redirecting, treat them as plain requests
    // so they get the 308 too instead of a cleartext tunnel (Node >= 24.9 asks this callback).
    const shouldUpgrade = server.shouldUpgradeCallback as ((this: Server, req: IncomingMessage) => boolean) | undefined
    if (typeof shouldUpgrade === 'function') {
      server.shouldUpgradeCallback = function (this: Server, req: IncomingMessage) {
        return httpsPort() === undefined && shouldUpgrade.call(this, req)
      }
    }
    return server as unknown as ReturnType<ServerFactory>
  }
}
