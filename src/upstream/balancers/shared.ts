/**
 * Pieces the balancers share: slowStart ramping, lazy best-first and weighted iteration, and
 * the options every balancer takes.
 */
import type { Backend, Clock } from '../types.js'
import { systemClock } from '../clock.js'

export interface BalancerOptions {
  /** Time source for slowStart and load-report freshness. */
  readonly clock?: Clock
  /** Uniform [0, 1) source for the randomised algorithms (seedable in tests). */
  readonly random?: () => number
}

export interface ResolvedBalancerOptions {
  readonly clock: Clock
  readonly random: () => number
  /** slowStart window in ms; 0 = off. */
  readonly slowStart: number
}

export function resolveOptions(slowStart: number, o: BalancerOptions | undefined): ResolvedBalancerOptions {
  return { clock: o?.clock ?? systemClock, random: o?.random ?? Math.random, slowStart }
}

/**
 * Share of its weight a backend gets now under slowStart: linear from (almost) nothing when it
 * became available to all of it after the window. The floor keeps a just-recovered backend
 * from being starved entirely, so it starts proving itself at once.
 */
const RAMP_FLOOR = 0.01

export function rampFactor(b: Backend, now: number, slowStart: number): number {
  if (slowStart <= 0 || b.availableSince === undefined) return 1
  const elapsed = now - b.availableSince
  if (elapsed >= slowStart) return 1
  return Math.max(RAMP_FLOOR, elapsed / slowStart)
}

/** Configured weight scaled by the slowStart ramp. */
export function effectiveWeight(b: Backend, now: number, slowStart: number): number {
  return b.weight * rampFactor(b, now, slowStart)
}

/**
 * Yields available backends lowest score first, lazily: the first choice costs one pass, each
 * retry candidate one more. Among equal scores the scan starts at `start`, so callers rotate
 * ties by moving `start`.
 */
export function* bestFirst(backends: readonly Backend[], start: number, score: (b: Backend) => number, onFirst?: (index: number) => void): Generator<Backend> {
  const n = backends.length
  let taken: Uint8Array | undefined
  for (let round = 0; round < n; round++) {
    let best = -1
    let bestScore = Infinity
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n
      if (taken !== undefined && taken[i] === 1) continue
      const b = backends[i]!
      if (!b.isAvailable()) continue
      const s = score(b)
      if (best < 0 || s < bestScore) {
        best = i
        bestScore = s
      }
    }
    if (best < 0) return
    if (round === 0) onFirst?.(best)
    yield backends[best]!
    taken ??= new Uint8Array(n)
    taken[best] = 1
  }
}

/**
 * Yields available backends by repeated weighted draws without replacement, lazily.
 * `weight` may return 0 to exclude a backend from draws; such backends are never yielded.
 */
export function* weightedDraws(backends: readonly Backend[], weight: (b: Backend) => number, random: () => number, taken?: Uint8Array): Generator<Backend> {
  const n = backends.length
  for (;;) {
    let total = 0
    for (let i = 0; i < n; i++) {
      if (taken !== undefined && taken[i] === 1) continue
      const b = backends[i]!
      if (b.isAvailable()) total += weight(b)
    }
    if (!(total > 0)) return
    let r = random() * total
    let pick = -1
    for (let i = 0; i < n; i++) {
      if (taken !== undefined && taken[i] === 1) continue
      const b = backends[i]!
      if (!b.isAvailable()) continue
      const w = weight(b)
      if (w <= 0) continue
      pick = i
      r -= w
      if (r < 0) break
    }
    if (pick < 0) return
    taken ??= new Uint8Array(n)
    taken[pick] = 1
    yield backends[pick]!
  }
}

/** The available backends after `first` in array order (wrapping), for retries. */
export function* restInRotation(backends: readonly Backend[], first: number): Generator<Backend> {
  const n = backends.length
  for (let k = 1; k < n; k++) {
    const b = backends[(first + k) % n]!
    if (b.isAvailable()) yield b
  }
}
