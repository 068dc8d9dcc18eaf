/**
 * Client IP resolution. The socket peer is the client unless it is a trusted proxy; then the
 * rightmost X-Forwarded-For address that is not itself trusted is the client (everything left
 * of it could have been written by anyone).
 */
import { BlockList, isIP } from 'node:net'

export interface TrustMatcher {
  /** True when the address (v4, v6 or v4-mapped v6) is one of the trusted proxies. */
  isTrusted(address: string): boolean
  readonly empty: boolean
}

const V4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i

export function unmapIPv4(address: string): string {
  if (address.length < 8 || address.charCodeAt(0) !== 58 /* : */) return address
  const m = V4_MAPPED.exec(address)
  return m ? m[1]! : address
}

/**
 * One canonical spelling per address, so rate-limit keys, CIDR rules and logs see one client
 * however a proxy wrote it: IPv4-mapped IPv6 in any spelling (`::ffff:1.2.3.4`,
 * `0:0:0:0:0:ffff:102:304`) becomes the IPv4 address, other IPv6 the RFC 5952 form (lower
 * case, longest zero run as `::`). Not an address: returned unchanged (callers check isIP).
 */
export function canonicalIp(address: string): string {
  const fam = isIP(address)
  if (fam !== 6) return address
  const groups = ipv6Groups(address)
  if (groups === undefined) return address
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`
  }
  // RFC 5952 §4.2: the longest run (of two or more) of zero groups, the first on a tie.
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (best < 0) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}

/** The eight 16-bit groups of a valid IPv6 address (with an embedded IPv4 tail if present). */
function ipv6Groups(address: string): number[] | undefined {
  let a = address
  const zone = a.indexOf('%')
  if (zone >= 0) return undefined // scoped addresses are link-local peers: leave them alone
  let tail: number[] = []
  const lastColon = a.lastIndexOf(':')
  if (a.indexOf('.', lastColon) >= 0) {
    const v4 = a.slice(lastColon + 1).split('.').map(Number)
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!]
    a = a.slice(0, lastColon + 1) + '0'
  }
  const [head, rest] = a.split('::') as [string, string | undefined]
  const h = head === '' ? [] : head.split(':').map((x) => Number.parseInt(x, 16))
  const r = rest === undefined ? [] : rest === '' ? [] : rest.split(':').map((x) => Number.parseInt(x, 16))
  if (tail.length > 0) (rest === undefined ? h : r).pop()
  const fill = 8 - tail.length - h.length - r.length
  const groups = rest === undefined ? [...h, ...tail] : [...h, ...new Array<number>(Math.max(0, fill)).fill(0), ...r, ...tail]
  return groups.length === 8 ? groups : undefined
}

/** Compile trustedProxies ("10.0.0.0/8", "::1", "127.0.0.1") once into a BlockList. */
export function compileTrustedProxies(entries: readonly string[]): TrustMatcher {
  const list = new BlockList()
  for (const entry of entries) {
    const [addr, prefix] = entry.split('/') as [string, string | undefined]
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4'
    if (prefix !== undefined) list.addSubnet(addr, Number(prefix), family)
    else list.addAddress(addr, family)
  }
  const empty = entries.length === 0
  return {
    empty,
    isTrusted(address: string): boolean {
      if (empty || !address) return false
      const a = canonicalIp(unmapIPv4(address))
      const fam = isIP(a)
      if (fam === 0) return false
      return list.check(a, fam === 6 ? 'ipv6' : 'ipv4')
    },
  }
}

/**
 * The client IP for a request arriving from `peer` with the given X-Forwarded-For value(s).
 * Returns the peer itself when it is not trusted or the header is absent or unusable.
 */
export function resolveClientIp(peer: string, xff: string | string[] | undefined, trust: TrustMatcher): string {
  const p = unmapIPv4(peer)
  if (trust.empty || xff === undefined || !trust.isTrusted(p)) return p
  const parts = (Array.isArray(xff) ? xff.join(',') : xff).split(',')
  for (let i = parts.length - 1; i >= 0; i--) {
    const candidate = canonicalIp(parts[i]!.trim())
    if (isIP(candidate) === 0) return p // garbage in the chain: trust nothing left of it
    if (!trust.isTrusted(candidate)) return candidate
  }
  // Every hop trusted: the leftmost is the best we know.
  return canonicalIp(parts[0]!.trim())
}
