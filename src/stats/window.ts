/**
 * Live rates from cumulative counters: snapshots of counter values are kept for a short
 * window and rates are the difference between now and the oldest snapshot inside it, as
 * Prometheus' `rate()` does over a range. Snapshots are taken when someone asks (the dashboard
 * polls every second or two), so nothing runs while nobody looks.
 */

/** Cumulative values of one moment: series key → value; histograms as key → (le → count). */
export interface Snapshot {
  readonly at: number
  readonly counters: ReadonlyMap<string, number>
  readonly histograms: ReadonlyMap<string, ReadonlyMap<number, number>>
}

export class SnapshotWindow {
  readonly #windowMs: number
  readonly #keep: Snapshot[] = []

  constructor(windowMs: number) {
    this.#windowMs = windowMs
  }

  /**
   * Adds `now` and returns the snapshot to compare it with: the oldest one no older than the
   * window, or undefined when there is none yet (the first look has no rate).
   */
  push(now: Snapshot): Snapshot | undefined {
    const keep = this.#keep
    while (keep.length > 0 && now.at - keep[0]!.at > this.#windowMs) keep.shift()
    const base = keep[0]
    // Bound memory however often the endpoint is polled: one snapshot per 250 ms is plenty.
    if (keep.length === 0 || now.at - keep[keep.length - 1]!.at >= 250) keep.push(now)
    return base
  }
}

/** Per-second rate of a counter between two snapshots (counter resets count from zero). */
export function rate(now: Snapshot, base: Snapshot | undefined, key: string): number | null {
  if (base === undefined || now.at <= base.at) return null
  const v = now.counters.get(key) ?? 0
  const b = base.counters.get(key) ?? 0
  const d = v >= b ? v - b : v
  return d / ((now.at - base.at) / 1000)
}

/** Increase of a counter between two snapshots. */
export function increase(now: Snapshot, base: Snapshot | undefined, key: string): number | null {
  if (base === undefined) return null
  const v = now.counters.get(key) ?? 0
  const b = base.counters.get(key) ?? 0
  return v >= b ? v - b : v
}

/**
 * The q-quantile (0..1) of a histogram's observations between two snapshots, interpolated
 * linearly inside the bucket that holds it (Prometheus' histogram_quantile). Null without
 * observations; the largest finite bound when the quantile falls in the +Inf bucket.
 */
export function quantile(now: Snapshot, base: Snapshot | undefined, key: string, q: number): number | null {
  if (base === undefined) return null
  const cur = now.histograms.get(key)
  if (cur === undefined) return null
  const prev = base.histograms.get(key)
  const bounds = [...cur.keys()].sort((a, b) => a - b)
  const counts = bounds.map((le) => Math.max(0, (cur.get(le) ?? 0) - (prev?.get(le) ?? 0)))
  const total = counts[counts.length - 1] ?? 0
  if (total <= 0) return null
  const rank = q * total
  let lower = 0
  let below = 0
  for (let i = 0; i < bounds.length; i++) {
    const le = bounds[i]!
    const cum = counts[i]!
    if (cum >= rank) {
      if (le === Infinity) return i > 0 ? bounds[i - 1]! : null
      const inBucket = cum - below
      return inBucket <= 0 ? le : lower + (le - lower) * ((rank - below) / inBucket)
    }
    lower = le
    below = cum
  }
  return null
}
