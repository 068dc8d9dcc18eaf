/**
 * A hash ring with virtual nodes (Karger et al.), weight-aware: each backend owns points in
 * proportion to its weight. A key maps to the first point clockwise from its hash; an
 * unavailable backend's keys fall through to the next distinct backend on the ring, so
 * removing or ejecting one backend of N moves only its own keys. Points derive from the
 * backend id (pool + origin), so every gateway instance builds the same ring.
 * The key is SelectionContext.hashKey (the pool's `hashOn`), or the client IP when absent.
 * slowStart does not apply (it would move keys back and forth during the window).
 */
import type { Backend, Balancer, SelectionContext } from '../types.js'
import { hash32 } from '../hash.js'

/** Points per unit of weight: ±~4% spread of key share between equal backends. */
const POINTS_PER_WEIGHT = 512
/** Upper bound on ring size, whatever the weights: memory and rebuild time stay small. */
const MAX_POINTS = 1 << 17

interface Ring {
  readonly hashes: Uint32Array
  readonly owners: Uint32Array
}

export function buildRing(backends: readonly Backend[]): Ring {
  let totalWeight = 0
  for (const b of backends) totalWeight += b.weight
  const scale = totalWeight > 0 ? Math.min(POINTS_PER_WEIGHT, MAX_POINTS / totalWeight) : 0
  const points: { h: number; owner: number }[] = []
  backends.forEach((b, owner) => {
    const count = Math.max(1, Math.round(b.weight * scale))
    for (let j = 0; j < count; j++) points.push({ h: hash32(`${b.id}#${j}`), owner })
  })
  // Ties (same hash for two backends) break by id so all instances agree.
  points.sort((a, b) => a.h - b.h || backends[a.owner]!.id.localeCompare(backends[b.owner]!.id))
  const hashes = new Uint32Array(points.length)
  const owners = new Uint32Array(points.length)
  points.forEach((p, i) => {
    hashes[i] = p.h
    owners[i] = p.owner
  })
  return { hashes, owners }
}

/** Index of the first point at or after h (wrapping to 0). */
function lowerBound(hashes: Uint32Array, h: number): number {
  let lo = 0
  let hi = hashes.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (hashes[mid]! < h) lo = mid + 1
    else hi = mid
  }
  return lo === hashes.length ? 0 : lo
}

export class ConsistentHashBalancer implements Balancer {
  #for: readonly Backend[] | undefined
  #ring: Ring
  #weights: string

  constructor() {
    this.#ring = { hashes: new Uint32Array(0), owners: new Uint32Array(0) }
    this.#weights = ''
  }

  *candidates(backends: readonly Backend[], ctx: SelectionContext): Generator<Backend> {
    this.#refresh(backends)
    const { hashes, owners } = this.#ring
    const len = hashes.length
    const n = backends.length
    if (len === 0) return
    const start = lowerBound(hashes, hash32(ctx.hashKey ?? ctx.clientIp))
    // The common case (the key's owner is available) needs no bookkeeping at all.
    const owner0 = owners[start]!
    if (backends[owner0]!.isAvailable()) yield backends[owner0]!
    if (n === 1) return
    const seen = new Uint8Array(n)
    seen[owner0] = 1
    let distinct = 1
    for (let k = 1; k < len && distinct < n; k++) {
      const owner = owners[(start + k) % len]!
      if (seen[owner] === 1) continue
      seen[owner] = 1
      distinct++
      const b = backends[owner]!
      if (b.isAvailable()) yield b
    }
  }

  #refresh(backends: readonly Backend[]): void {
    if (backends === this.#for) return
    // Same members and weights in a new array (a reload that changed nothing here): keep the ring.
    const weights = backends.map((b) => `${b.id}=${b.weight}`).join('\n')
    this.#for = backends
    if (weights === this.#weights) return
    this.#weights = weights
    this.#ring = buildRing(backends)
  }
}
