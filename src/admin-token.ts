/** Admin bearer-token check in constant time (no early exit on the first differing byte). */
import { createHash, timingSafeEqual } from 'node:crypto'

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
