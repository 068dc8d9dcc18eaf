/**
 * Password hashes for `basicAuth`, made by `switchyard hash-password`: scrypt (RFC 7914, node's
 * crypto.scrypt), a random 16-byte salt per hash, in a PHC-like string
 * `$scrypt$ln=15,r=8,p=1$<salt, base64>$<hash, base64>` (ln = log2 of the cost N).
 *
 * scrypt is deliberately slow (tens of milliseconds): a stolen configuration does not give the
 * passwords away cheaply. The basic-auth feature caches verified credentials so a client that
 * keeps sending the same good credentials pays for one hash, not one per request.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

export interface PasswordHash {
  readonly ln: number
  readonly r: number
  readonly p: number
  readonly salt: Buffer
  readonly hash: Buffer
}

/** The cost used by `hash-password`: N = 2^15 (32 MiB of memory, tens of ms), r = 8, p = 1: at or above the scrypt parameters OWASP lists as a minimum. */
export const DEFAULT_COST = { ln: 15, r: 8, p: 1 } as const
const KEY_LENGTH = 32
const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/

function options(h: { ln: number; r: number; p: number }): ScryptOptions {
  const N = 2 ** h.ln
  // scrypt needs 128 · N · r bytes; node refuses above maxmem (32 MiB by default).
  return { N, r: h.r, p: h.p, maxmem: 128 * N * h.r * 2 + 1024 * 1024 }
}

function scryptAsync(password: Buffer | string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))))
}

/** A new salted hash of `password`. */
export async function hashPassword(password: string, cost: { ln: number; r: number; p: number } = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(16)
  const hash = await scryptAsync(password.normalize('NFC'), salt, KEY_LENGTH, options(cost))
  return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${salt.toString('base64')}$${hash.toString('base64')}`
}

/** Parse a stored hash, or return the reason it is not one (for the configuration check). */
export function parsePasswordHash(text: string): PasswordHash | string {
  const m = FORMAT.exec(text)
  if (m === null) return 'must be what `switchyard hash-password` prints ($scrypt$ln=…,r=…,p=…$salt$hash)'
  const ln = Number(m[1])
  const r = Number(m[2])
  const p = Number(m[3])
  // Bounds: cheap enough not to let a configuration stall every request, costly enough to matter.
  if (ln < 10 || ln > 20) return 'scrypt cost ln must be 10-20'
  if (r < 1 || r > 16 || p < 1 || p > 4) return 'scrypt r must be 1-16 and p 1-4'
  const salt = Buffer.from(m[4]!, 'base64')
  const hash = Buffer.from(m[5]!, 'base64')
  if (salt.length < 8) return 'salt must be at least 8 bytes'
  if (hash.length < 16 || hash.length > 64) return 'hash must be 16-64 bytes'
  return { ln, r, p, salt, hash }
}

/** Whether `password` matches `stored` (constant-time comparison of the derived keys). */
export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const derived = await scryptAsync(password.normalize('NFC'), stored.salt, stored.hash.length, options(stored))
  return timingSafeEqual(derived, stored.hash)
}
