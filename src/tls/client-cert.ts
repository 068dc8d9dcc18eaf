/**
 * Mutual TLS: the verified client certificate, forwarded upstream in headers the client cannot
 * forge. Client-sent copies are dropped on every listener; the gateway sets the real ones only
 * for a certificate that chained to `clientCa` (socket.authorized).
 *
 * - `x-client-cert-subject`: the subject as an RFC 4514 string (`CN=client-1,O=Acme`, most
 *   specific RDN first, like nginx's $ssl_client_s_dn), with every byte outside printable
 *   ASCII hex-escaped (RFC 4514 §2.4), so the value is always a valid header field.
 * - `x-client-cert-fingerprint`: SHA-256 of the DER certificate, `AB:CD:…` as
 *   `openssl x509 -noout -fingerprint -sha256` prints it.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { PeerCertificate, TLSSocket } from 'node:tls'

export const CLIENT_CERT_SUBJECT = 'x-client-cert-subject'
export const CLIENT_CERT_FINGERPRINT = 'x-client-cert-fingerprint'

/** Remove client-sent copies (in place; only touches the object when a copy is present). */
export function dropClientCertHeaders(headers: IncomingHttpHeaders): void {
  if (headers[CLIENT_CERT_SUBJECT] !== undefined) delete headers[CLIENT_CERT_SUBJECT]
  if (headers[CLIENT_CERT_FINGERPRINT] !== undefined) delete headers[CLIENT_CERT_FINGERPRINT]
}

/** RFC 4514 §2.4 escaping, plus hex escapes for anything that is not printable ASCII. */
export function escapeDnValue(value: string): string {
  let out = ''
  const bytes = Buffer.from(value, 'utf8')
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!
    const c = String.fromCharCode(b)
    const first = i === 0
    const last = i === bytes.length - 1
    if (b < 0x20 || b > 0x7e) out += `\\${b.toString(16).toUpperCase().padStart(2, '0')}`
    else if (c === '"' || c === '+' || c === ',' || c === ';' || c === '<' || c === '>' || c === '\\') out += `\\${c}`
    else if ((first && (c === '#' || c === ' ')) || (last && c === ' ')) out += `\\${c}`
    else out += c
  }
  return out
}

/** Subject fields (as tls.PeerCertificate gives them, certificate order) → RFC 4514 string. */
export function formatSubject(subject: PeerCertificate['subject'] | undefined): string {
  if (subject === undefined || subject === null) return ''
  const parts: string[] = []
  for (const attr of Object.keys(subject)) {
    const v = (subject as unknown as Record<string, string | string[]>)[attr]!
    for (const one of Array.isArray(v) ? v : [v]) parts.push(`${attr}=${escapeDnValue(one)}`)
  }
  // RFC 4514 §2.1: the last RDN of the sequence is written first.
  return parts.reverse().join(',')
}

const kCertHeaders = Symbol('switchyard.clientCertHeaders')
type CachedSocket = TLSSocket & { [kCertHeaders]?: Record<string, string> | null }

/**
 * Headers describing a verified client certificate on this connection, or null. Computed once
 * per connection (an HTTP/2 session or an HTTP/1.1 keep-alive connection carries many
 * requests) and kept on the socket; the object is shared, never mutate it.
 */
export function clientCertHeaders(socket: TLSSocket): Readonly<Record<string, string>> | null {
  const s = socket as CachedSocket
  const cached = s[kCertHeaders]
  if (cached !== undefined) return cached
  let headers: Record<string, string> | null = null
  if (s.authorized) {
    const peer = s.getPeerCertificate()
    if (peer && peer.fingerprint256) headers = { [CLIENT_CERT_SUBJECT]: formatSubject(peer.subject), [CLIENT_CERT_FINGERPRINT]: peer.fingerprint256 }
  }
  s[kCertHeaders] = headers
  return headers
}
