/**
 * A compiled set of addresses and CIDRs (`match.clientIp`, `access.allow/deny`), built once per
 * route from the normalised, canonical entries (src/config/normalize-policies.ts).
 *
 * IPv4 (the common case) is matched without any allocation: the dotted quad is parsed into a
 * 32-bit number and compared against (network, mask) pairs. IPv6 goes to node's BlockList,
 * compiled once. Addresses arrive in the canonical form of src/net/client-ip.ts (IPv4-mapped
 * IPv6 already unmapped to IPv4), so `::ffff:10.1.2.3` and `10.1.2.3` are one client.
 */
import { BlockList, isIPv6 } from 'node:net'
import { canonicalIp } from './client-ip.js'

export interface IpMatcher {
  /** True when `address` (canonical, as ctx.clientIp is) is in the set. */
  has(address: string): boolean
  /** The entries, for explain and logs. */
  readonly entries: readonly string[]
}

/** The dotted quad as an unsigned 32-bit number, or -1 when `s` is not one. */
export function parseIPv4(s: string): number {
  let value = 0
  let part = 0
  let digits = 0
  let dots = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return -1
      value = value * 256 + part
      part = 0
      digits = 0
      dots++
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48)
      if (++digits > 3 || part > 255) return -1
    } else return -1
  }
  if (dots !== 3 || digits === 0) return -1
  return value * 256 + part
}

export function compileIpMatcher(entries: readonly string[]): IpMatcher {
  const v4: number[] = [] // pairs: network, mask (unsigned)
  const v6 = new BlockList()
  let anyV6 = false
  for (const entry of entries) {
    const slash = entry.indexOf('/')
    const addr = slash < 0 ? entry : entry.slice(0, slash)
    const a = parseIPv4(addr)
    if (a >= 0) {
      const bits = slash < 0 ? 32 : Number(entry.slice(slash + 1))
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
      v4.push((a & mask) >>> 0, mask)
    } else if (isIPv6(addr)) {
      anyV6 = true
      if (slash < 0) v6.addAddress(addr, 'ipv6')
      else v6.addSubnet(addr, Number(entry.slice(slash + 1)), 'ipv6')
    }
  }
  const n = v4.length
  return {
    entries: Object.freeze([...entries]),
    has(address: string): boolean {
      const a = parseIPv4(address)
      if (a >= 0) {
        for (let i = 0; i < n; i += 2) if (((a & v4[i + 1]!) >>> 0) === v4[i]) return true
        return false
      }
      if (!anyV6 || !isIPv6(address)) return false
      const c = canonicalIp(address)
      // A mapped address that canonicalIp turned into IPv4 is matched as IPv4.
      if (c !== address && parseIPv4(c) >= 0) return this.has(c)
      return v6.check(c, 'ipv6')
    },
  }
}
