/**
 * Rate-limit bucket keys. A bucket is the route name plus the key value, never the raw URL:
 * `/api/users`, `//api/users/` and `/API/users/./` match the same route and so share a bucket,
 * and one route's traffic never spends another's budget.
 *
 * The client IP is the one the request-context plugin resolved with `trustedProxies`, so a
 * spoofed `X-Forwarded-For` from an untrusted peer cannot change it. IPv6 clients are grouped by
 * their /64: a single subscriber usually holds a whole /64 (RFC 6177) and could otherwise rotate
 * addresses to get a fresh budget per request.
 */
import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { isIPv6 } from 'node:net'
import type { KeySource } from '../config/model.js'
import { ERR_RATE_LIMIT_CONFIG } from './errors.js'

export interface RateLimitKeyInput {
  readonly clientIp: string
  readonly headers: IncomingHttpHeaders
  readonly claims: Readonly<Record<string, unknown>> | undefined
  /** The authenticated consumer (API key name, basic-auth user), for `key: apikey`. */
  readonly consumer?: string | undefined
  /**
   * Values of the other key sources (`cookie:`, `query:`, `path` = the normalised path, never the
   * raw target), read by the caller on demand.
   */
  readonly lookup?: (source: KeySource) => string | undefined
}

export type RateLimitKeyDeriver = (input: RateLimitKeyInput) => string

export interface CompiledRateLimitKey {
  readonly derive: RateLimitKeyDeriver
  /** True when the key is a verified JWT claim: the token must be checked before counting. */
  readonly needsClaims: boolean
}

// Client-chosen values (headers, claims) longer than this are hashed: they stay distinct but a
// client cannot park kilobyte-long keys in a shared store.
const MAX_VALUE_LENGTH = 128

/**
 * Compile a route's key source. A `header:` or `jwt:` key that a request does not carry falls
 * back to the client's IP bucket, so leaving the header out neither escapes the limit nor
 * lands everyone in one shared bucket.
 */
export function compileRateLimitKey(routeName: string, source: KeySource): CompiledRateLimitKey {
  // The length prefix keeps the encoding unambiguous whatever characters a route name holds.
  const prefix = `${routeName.length}:${routeName}|`
  const ipPrefix = `${prefix}ip:`
  const byIp = (input: RateLimitKeyInput): string => ipPrefix + ipBucket(input.clientIp)
  switch (source.kind) {
    case 'ip':
      return { derive: byIp, needsClaims: false }
    case 'route': {
      const key = `${prefix}route`
      return { derive: () => key, needsClaims: false }
    }
    case 'header': {
      const name = source.name
      const hp = `${prefix}h:`
      return {
        needsClaims: false,
        derive: (input) => {
          const v = input.headers[name]
          const s = Array.isArray(v) ? v.join(', ') : v
          return s === undefined || s.length === 0 ? byIp(input) : hp + boundedValue(s)
        },
      }
    }
    case 'jwt': {
      const claim = source.claim
      const jp = `${prefix}jwt:`
      return {
        needsClaims: true,
        derive: (input) => {
          const v = input.claims?.[claim]
          if (typeof v === 'string' && v.length > 0) return jp + boundedValue(v)
          if (typeof v === 'number' || typeof v === 'boolean') return jp + String(v)
          return byIp(input)
        },
      }
    }
    case 'apikey': {
      // Counted after authentication (like a claim): the consumer is known only then.
      const ap = `${prefix}key:`
      return {
        needsClaims: true,
        derive: (input) => {
          const v = input.consumer
          return v === undefined || v.length === 0 ? byIp(input) : ap + boundedValue(v)
        },
      }
    }
    case 'path':
    case 'cookie':
    case 'query': {
      const tag = `${prefix}${source.kind === 'path' ? 'p' : source.kind === 'cookie' ? 'c' : 'q'}:`
      return {
        needsClaims: false,
        derive: (input) => {
          const v = input.lookup?.(source)
          return v === undefined || v.length === 0 ? byIp(input) : tag + boundedValue(v)
        },
      }
    }
    default:
      throw new ERR_RATE_LIMIT_CONFIG(`unknown key source ${JSON.stringify(source)}`)
  }
}

function boundedValue(s: string): string {
  return s.length <= MAX_VALUE_LENGTH ? s : `#${createHash('sha256').update(s).digest('base64url')}`
}

/** The bucket of a client address: IPv4 as is, IPv6 by /64, IPv4-mapped IPv6 as IPv4. */
export function ipBucket(ip: string): string {
  if (!isIPv6(ip)) return ip
  return ipv6Prefix64(ip)
}

/** The /64 prefix of an IPv6 address, one spelling per prefix, e.g. `2001:db8:0:1::/64`. */
export function ipv6Prefix64(address: string): string {
  let ip = address
  const zone = ip.indexOf('%')
  if (zone !== -1) ip = ip.slice(0, zone)
  const lower = ip.toLowerCase()
  if (lower.startsWith('::ffff:') && lower.includes('.')) return lower.slice(7)
  const gap = ip.indexOf('::')
  const head = gap === -1 ? ip.split(':') : gap === 0 ? [] : ip.slice(0, gap).split(':')
  const tail = gap === -1 ? [] : gap + 2 === ip.length ? [] : ip.slice(gap + 2).split(':')
  // A dotted IPv4 tail stands for two groups.
  const width = (groups: string[]): number => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0)
  const fill = 8 - width(head) - width(tail)
  const groups: string[] = head.slice(0, 4)
  for (let i = 0; groups.length < 4 && i < fill; i++) groups.push('0')
  for (let i = 0; groups.length < 4 && i < tail.length; i++) groups.push(tail[i]!)
  const hex = groups.map((g) => (g.includes('.') ? '0' : Number.parseInt(g, 16).toString(16)))
  // Not RFC 5952's shortest form, but one spelling per /64, which is all a bucket key needs.
  return `${hex.join(':')}::/64`
}
