/**
 * TLS passthrough routing: a ClientHello server name → pool. Exact names first, then a `*.`
 * wildcard covering exactly one label (RFC 6125 §6.4.3: `*.b.example.com` matches
 * `x.b.example.com`, not `b.example.com` nor `y.x.b.example.com`), then the stream's own pool
 * (no SNI, or no entry matched). Compiled once per configuration: two map lookups per connection.
 */
import type { StreamSettings } from '../config/model.js'

export type SniRouter = (serverName: string | undefined) => string | undefined

const trimDot = (name: string): string => (name.endsWith('.') ? name.slice(0, -1) : name)

export function compileSniRouter(stream: StreamSettings): SniRouter {
  const fallback = stream.pool
  const exact = new Map<string, string>()
  const wildcard = new Map<string, string>()
  for (const e of stream.sni ?? []) {
    const name = trimDot(e.name)
    if (name.startsWith('*.')) {
      if (!wildcard.has(name.slice(2))) wildcard.set(name.slice(2), e.pool)
    } else if (!exact.has(name)) exact.set(name, e.pool)
  }
  return (serverName) => {
    if (serverName === undefined) return fallback
    const name = trimDot(serverName)
    const hit = exact.get(name)
    if (hit !== undefined) return hit
    const dot = name.indexOf('.')
    return (dot > 0 ? wildcard.get(name.slice(dot + 1)) : undefined) ?? fallback
  }
}
