/** Admin bearer-token check in constant time (no early exit on the first differing byte). */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'

/**
 * Compare digests rather than raw strings: timingSafeEqual needs equal lengths, and hashing
 * first keeps the comparison time independent of where, or whether, the lengths differ.
 */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b) && expected.length > 0
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  return m ? m[1] : undefined
}

/** Whether an admin bind address is reachable only from this host (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '')
  if (h === 'localhost' || h === '::1') return true
  return isIP(h) === 4 && h.startsWith('127.')
}

/**
 * The token an admin listener without `admin.token` uses: none on loopback (the operator's own
 * host), else a random one generated at start, so an admin bound to the network is never open
 * by default. The caller prints it once.
 */
export function generatedAdminToken(host: string): string {
  return isLoopbackHost(host) ? '' : randomBytes(24).toString('base64url')
}
