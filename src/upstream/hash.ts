/**
 * Hashing for placement decisions. Not cryptographic: it only has to spread keys evenly and be
 * identical on every gateway instance, so that instances agree on where a key goes.
 */
import { createHash } from 'node:crypto'

/** MurmurHash3's 32-bit finaliser: turns FNV's weak low bits into a well-mixed value. */
export function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** FNV-1a over UTF-16 code units, then fmix32: fast, allocation-free, stable across processes. */
export function hash32(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return fmix32(h)
}

/**
 * The session-cookie token of a backend: a short digest of pool name and origin. Stable across
 * reloads and gateway instances (no per-process secret), and it does not carry the address.
 * 96 bits make accidental collisions within a pool negligible.
 */
export function stickyTokenFor(pool: string, origin: string): string {
  return createHash('sha256').update('switchyard-sticky\0').update(pool).update('\0').update(origin).digest('base64url').slice(0, 16)
}
