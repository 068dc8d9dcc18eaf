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
      const a = unmapIPv4(address)
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
    const candidate = unmapIPv4(parts[i]!.trim())
    if (isIP(candidate) === 0) return p // garbage in the chain: trust nothing left of it
    if (!trust.isTrusted(candidate)) return candidate
  }
  // Every hop trusted: the leftmost is the best we know.
  return unmapIPv4(parts[0]!.trim())
}
