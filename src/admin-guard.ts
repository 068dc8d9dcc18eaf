/**
 * Cross-site and DNS-rebinding defences of the admin listener, checked before the token (and
 * so also when no token is configured, the default for a loopback admin).
 *
 * - Host: a browser on an attacker's page can reach a loopback admin through a name the
 *   attacker controls and re-points at 127.0.0.1 (DNS rebinding); the Host header then names
 *   the attacker's domain. Only the admin's own address, IP literals (a rebinding needs a
 *   name), `localhost` names and `admin.allowedHosts` are answered: 421 (Misdirected Request,
 *   RFC 9110 §15.5.20) otherwise.
 * - Origin: a browser names the page that made a cross-origin request; an admin call from any
 *   page but the admin's own (the dashboard) or an `admin.allowedHosts` name is refused: 403. Browsers send Origin on every
 *   cross-origin POST, PUT, PATCH and DELETE, with or without a body.
 * - Content-Type: a page can POST a form (urlencoded, multipart) or text/plain across sites
 *   without a CORS preflight; application/json needs one. A state-changing call with a body of
 *   any other type is refused: 415. (A call with no body and no type, as `curl -X POST` sends,
 *   passes: a browser that sends it cross-site also sends Origin, refused above.)
 *
 * Pure functions of the request's fields and the settings: no framework, no allocation on
 * the usual path.
 */
import { isIP } from 'node:net'
import type { AdminSettings } from './config/model.js'
import { isValidHost, routingHost } from './net/host.js'

export interface AdminRequestView {
  readonly method: string
  readonly host: string | undefined
  readonly origin: string | undefined
  readonly contentType: string | undefined
  readonly hasBody: boolean
}

export interface AdminRefusal {
  readonly status: 403 | 415 | 421
  readonly message: string
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** Whether `host` (a Host header value) names this admin listener. */
export function isAdminHost(host: string, admin: AdminSettings): boolean {
  if (!isValidHost(host)) return false
  const name = routingHost(host)
  // An IP literal cannot be re-pointed by DNS; `localhost` and its subdomains are loopback (RFC 6761 §6.3).
  if (isIP(name.charCodeAt(0) === 91 ? name.slice(1, -1) : name) !== 0) return true
  if (name === 'localhost' || name.endsWith('.localhost')) return true
  if (name === admin.host.toLowerCase()) return true
  const allowed = admin.allowedHosts
  if (allowed === undefined) return false
  const lower = host.toLowerCase()
  for (const a of allowed) if (a === name || a === lower) return true
  return false
}

/** The page's origin is the admin's own (same scheme-less authority as Host) or an allowedHosts name. */
function allowedOrigin(origin: string, host: string | undefined, admin: AdminSettings): boolean {
  const lower = origin.toLowerCase()
  const authority = lower.startsWith('http://') ? lower.slice(7) : lower.startsWith('https://') ? lower.slice(8) : undefined
  if (authority === undefined || !isValidHost(authority)) return false
  if (host !== undefined && authority === host.toLowerCase()) return true
  const allowed = admin.allowedHosts
  if (allowed === undefined) return false
  const name = routingHost(authority)
  for (const a of allowed) if (a === name || a === authority) return true
  return false
}

function isJson(contentType: string): boolean {
  const semi = contentType.indexOf(';')
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))
}

/** Why the admin refuses this request, or undefined when it may proceed (to the token check). */
export function adminRefusal(req: AdminRequestView, admin: AdminSettings): AdminRefusal | undefined {
  if (req.host !== undefined && !isAdminHost(req.host, admin)) {
    return { status: 421, message: 'Host does not name this admin listener (add it to admin.allowedHosts)' }
  }
  if (req.origin !== undefined && !allowedOrigin(req.origin, req.host, admin)) {
    return { status: 403, message: 'cross-origin admin requests are refused' }
  }
  if (STATE_CHANGING.has(req.method)) {
    if (req.contentType !== undefined ? !isJson(req.contentType) : req.hasBody) {
      return { status: 415, message: 'state-changing admin calls take application/json' }
    }
  }
  return undefined
}
