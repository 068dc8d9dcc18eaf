/**
 * Server-name lookup for SNI (RFC 6066 §3): exact names first, then a `*.` wildcard that
 * covers exactly one label (RFC 6125 §6.4.3: `*.example.com` matches `a.example.com`, not
 * `example.com` nor `a.b.example.com`). Names compare case-insensitively (DNS names are
 * case-insensitive, RFC 4343) and a trailing root dot is ignored. The table is compiled once per
 * certificate set; a lookup costs at most two Map probes.
 */

export interface SniEntry<T> {
  /** Lower-case names; `*.suffix` for a wildcard. */
  readonly names: readonly string[]
  readonly value: T
}

export type SniLookup<T> = (servername: string) => T | undefined

/** Earlier entries win when two claim the same name (the configuration order decides). */
export function compileSniTable<T>(entries: readonly SniEntry<T>[]): SniLookup<T> {
  const exact = new Map<string, T>()
  const wildcard = new Map<string, T>()
  for (const { names, value } of entries) {
    for (const raw of names) {
      const name = canonicalName(raw)
      if (name.startsWith('*.')) {
        const suffix = name.slice(2)
        if (!wildcard.has(suffix)) wildcard.set(suffix, value)
      } else if (!exact.has(name)) exact.set(name, value)
    }
  }
  return (servername) => {
    if (!servername) return undefined
    const name = canonicalName(servername)
    const hit = exact.get(name)
    if (hit !== undefined || wildcard.size === 0) return hit
    const dot = name.indexOf('.')
    // A leading dot (empty first label) never matches a wildcard.
    return dot > 0 ? wildcard.get(name.slice(dot + 1)) : undefined
  }
}

function canonicalName(name: string): string {
  const lower = name.toLowerCase()
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}
