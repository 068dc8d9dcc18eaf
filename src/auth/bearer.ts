/**
 * The bearer token of a request (RFC 6750 §2.1: `Authorization: Bearer <token>`). Only the
 * Authorization header is read: tokens in query strings leak into logs (RFC 6750 §5.3), and
 * other schemes (Basic, ...) are not ours to judge, so they count as "no bearer token".
 */
import { ERR_JWT_MALFORMED, ERR_JWT_TOO_LARGE } from './errors.js'

const BEARER = 'bearer'

/**
 * The token, or undefined when the request carries no bearer credentials. Throws
 * ERR_JWT_MALFORMED for an empty Bearer credential and ERR_JWT_TOO_LARGE before looking at an
 * oversized one.
 */
export function extractBearer(authorization: string | string[] | undefined, maxTokenLength: number): string | undefined {
  if (authorization === undefined) return undefined
  // Node keeps only the first Authorization header; an array can only come from a caller's copy.
  const value = Array.isArray(authorization) ? authorization[0] : authorization
  if (value === undefined || value.length < 7) return undefined
  // The scheme is case-insensitive (RFC 9110 §11.1); compare without allocating.
  if (value.charCodeAt(6) !== 32) return undefined
  for (let i = 0; i < 6; i++) {
    // OR 0x20 folds ASCII upper case onto lower case.
    if ((value.charCodeAt(i) | 0x20) !== BEARER.charCodeAt(i)) return undefined
  }
  let start = 7
  while (start < value.length && value.charCodeAt(start) === 32) start++
  const length = value.length - start
  if (length === 0) throw new ERR_JWT_MALFORMED()
  if (length > maxTokenLength) throw new ERR_JWT_TOO_LARGE(maxTokenLength)
  return value.slice(start)
}
