/**
 * Pool choice for a route's split: override header, sticky cohorts by weighted rendezvous
 * hashing, or a weighted random draw. Selectors are immutable; `withWeights` builds a new one
 * that the admin API swaps in with one assignment.
 *
 * Why rendezvous hashing: each pool scores a client key with `-weight / ln(h)`, h a uniform
 * hash of (route, key, pool) in (0, 1), and the highest score wins. The winning probability of
 * a pool is exactly weight / sum of weights, and a pool's score depends only on its own weight,
 * so raising one pool's weight can only make that pool win more keys: no client moves off it,
 * and no client moves between the other pools (the minimal disruption a canary needs).
 */
import { keyValueOf } from './key-value.js'
import { randomUUID } from 'node:crypto'
import type { KeySource, RouteSettings, SplitTarget } from '../config/model.js'
import { BadRouteSettingError, BadSplitWeightsError, UnknownSplitPoolError } from './errors.js'
import type { SplitDecision, SplitInput, SplitSelector } from './types.js'

// ---- hashing ------------------------------------------------------------------------------

// Two independent 32-bit multiplicative lanes fed per UTF-16 code unit, each finished with
// MurmurHash3's fmix32 avalanche, give 53 well-mixed bits: plenty for a uniform (0, 1) value,
// far cheaper than a cryptographic digest, and stable across processes and versions (a
// cohort must not move when the gateway restarts).
const LANE_A_SEED = 0x811c9dc5
const LANE_B_SEED = 0x2f0a3c71
let laneA = 0
let laneB = 0

function feed(s: string): void {
  let a = laneA
  let b = laneB
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
  }
  // A separator that no UTF-16 string contains in this position keeps ("ab","c") ≠ ("a","bc").
  laneA = Math.imul(a ^ 0xffff1, 0x01000193)
  laneB = Math.imul(b ^ 0xffff1, 0x5bd1e995)
}

function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

const TWO_POW_32 = 4294967296
const TWO_POW_53 = 9007199254740992

/** Uniform in the open interval (0, 1) from the current lanes. */
function unitFromLanes(a: number, b: number): number {
  const x = fmix32(a ^ Math.imul(b, 0x9e3779b1))
  const y = fmix32(b ^ x)
  return ((x >>> 11) * TWO_POW_32 + y + 0.5) / TWO_POW_53
}

/** A stable uniform (0, 1) hash of (route, key, pool); exported for tests and explain. */
export function stickyHash(route: string, key: string, pool: string): number {
  laneA = LANE_A_SEED
  laneB = LANE_B_SEED
  feed(route)
  feed(key)
  feed(pool)
  return unitFromLanes(laneA, laneB)
}

// ---- key sources --------------------------------------------------------------------------

type KeyReader = (input: SplitInput) => string | undefined

function keyReader(route: string, sticky: KeySource): KeyReader {
  // `route`: one key for every request, so the whole route follows one pool, chosen by weight once.
  if (sticky.kind === 'route') return () => route
  return (input) => keyValueOf(sticky, input)
}

/** The configuration spelling of a key source, e.g. `header:x-user-id`. */
export function describeKeySource(k: KeySource): string {
  switch (k.kind) {
    case 'header':
    case 'cookie':
    case 'query':
      return `${k.kind}:${k.name}`
    case 'jwt':
      return `jwt:${k.claim}`
    default:
      return k.kind
  }
}

// ---- the selector -------------------------------------------------------------------------

class Split implements SplitSelector {
  readonly targets: readonly SplitTarget[]
  readonly sticky: KeySource | undefined
  readonly overrideHeader: string | undefined
  readonly route: RouteSettings
  readonly #single: SplitDecision | undefined
  readonly #byPool: ReadonlyMap<string, { weighted: SplitDecision; override: SplitDecision }>
  /** Cumulative weights for the random draw, aligned with #drawDecisions. */
  readonly #cumulative: Float64Array
  readonly #drawDecisions: readonly SplitDecision[]
  readonly #total: number
  /** Pools with a positive weight, for rendezvous scoring. */
  readonly #live: readonly SplitTarget[]
  readonly #readKey: KeyReader | undefined
  readonly #cookieName: string | undefined
  readonly #cookieSuffix: string
  /** Hash lanes after the route name: the per-request hashing starts from here. */
  readonly #routeLaneA: number
  readonly #routeLaneB: number

  constructor(route: RouteSettings, targets: readonly SplitTarget[]) {
    this.route = route
    this.targets = Object.freeze(targets.map((t) => Object.freeze({ pool: t.pool, weight: t.weight })))
    this.sticky = route.sticky
    this.overrideHeader = route.override?.toLowerCase()
    if (this.targets.length === 0) throw new BadRouteSettingError(route.name, 'split has no pool')
    this.#single = this.targets.length === 1 ? Object.freeze({ pool: this.targets[0].pool, reason: 'single' as const }) : undefined
    const byPool = new Map<string, { weighted: SplitDecision; override: SplitDecision }>()
    for (const t of this.targets) {
      byPool.set(t.pool, {
        weighted: Object.freeze({ pool: t.pool, reason: 'weighted' as const }),
        override: Object.freeze({ pool: t.pool, reason: 'override' as const }),
      })
    }
    this.#byPool = byPool
    this.#live = this.targets.filter((t) => t.weight > 0)
    this.#cumulative = new Float64Array(this.#live.length)
    let sum = 0
    this.#live.forEach((t, i) => {
      sum += t.weight
      this.#cumulative[i] = sum
    })
    this.#total = sum
    this.#drawDecisions = this.#live.map((t) => byPool.get(t.pool)!.weighted)
    if (this.#single === undefined && sum <= 0) throw new BadRouteSettingError(route.name, 'split weights are all zero')
    this.#readKey = route.sticky === undefined ? undefined : keyReader(route.name, route.sticky)
    this.#cookieName = route.sticky?.kind === 'cookie' ? route.sticky.name : undefined
    const ttlSeconds = Math.floor(route.stickyCookie.ttl / 1000)
    // No Max-Age for a zero lifetime: a session cookie (RFC 6265 §4.1.2.2).
    this.#cookieSuffix = '; Path=/; HttpOnly; SameSite=Lax' + (ttlSeconds > 0 ? `; Max-Age=${ttlSeconds}` : '')
    laneA = LANE_A_SEED
    laneB = LANE_B_SEED
    feed(route.name)
    this.#routeLaneA = laneA
    this.#routeLaneB = laneB
  }

  choose(input: SplitInput): SplitDecision {
    if (this.#single !== undefined) return this.#single
    if (this.overrideHeader !== undefined) {
      const v = input.headers[this.overrideHeader]
      if (typeof v === 'string') {
        const d = this.#byPool.get(v.trim())
        if (d !== undefined) return d.override
      }
    }
    if (this.#readKey === undefined) return this.#draw()
    const key = this.#readKey(input)
    if (key !== undefined) return { pool: this.#rendezvous(key), reason: 'sticky', stickyKey: key }
    if (this.#cookieName !== undefined) {
      // Assign a cohort id now, so this client keeps its side of the split from the next
      // request on; the pool is the one the new id hashes to, so it is consistent with it.
      const id = randomUUID()
      return { pool: this.#rendezvous(id), reason: 'sticky', stickyKey: id, setCookie: `${this.#cookieName}=${id}${this.#cookieSuffix}` }
    }
    return this.#draw()
  }

  #draw(): SplitDecision {
    const r = Math.random() * this.#total
    const cum = this.#cumulative
    for (let i = 0; i < cum.length; i++) if (r < cum[i]) return this.#drawDecisions[i]
    return this.#drawDecisions[this.#drawDecisions.length - 1]
  }

  #rendezvous(key: string): string {
    laneA = this.#routeLaneA
    laneB = this.#routeLaneB
    feed(key)
    const a0 = laneA
    const b0 = laneB
    let best = ''
    let bestScore = -1
    for (const t of this.#live) {
      laneA = a0
      laneB = b0
      feed(t.pool)
      const score = -t.weight / Math.log(unitFromLanes(laneA, laneB))
      if (score > bestScore) {
        bestScore = score
        best = t.pool
      }
    }
    return best
  }
}

/**
 * The selector of a route's split. `targets` defaults to the route's configured split; the
 * admin API passes new weights through `withWeights` instead of calling this directly.
 * Throws BadRouteSettingError for an empty split or all-zero weights (the config loader refuses
 * these first).
 */
export function createSplitSelector(route: RouteSettings, targets?: readonly SplitTarget[]): SplitSelector {
  return new Split(route, targets ?? route.split)
}

/**
 * A selector with some pools' weights changed. `weights` must name only pools of the split
 * (400 SWITCHYARD_SPLIT_UNKNOWN_POOL otherwise), each a non-negative integer, at least one
 * of them; pools it does not name keep their weight. All weights zero afterwards is refused
 * (400 SWITCHYARD_SPLIT_BAD_WEIGHTS): a route must be able to send its traffic somewhere.
 */
export function withWeights(selector: SplitSelector, weights: Readonly<Record<string, unknown>>): SplitSelector {
  if (!(selector instanceof Split)) throw new TypeError('withWeights: not a selector made by createSplitSelector')
  const names = Object.keys(weights)
  if (names.length === 0) throw new BadSplitWeightsError('name at least one pool of the split')
  const known = new Set(selector.targets.map((t) => t.pool))
  for (const name of names) {
    if (!known.has(name)) throw new UnknownSplitPoolError(selector.route.name, name, [...known].join(', '))
    const w = weights[name]
    if (typeof w !== 'number' || !Number.isSafeInteger(w) || w < 0) {
      throw new BadSplitWeightsError(`weight of "${name}" must be a non-negative integer, got ${JSON.stringify(w)}`)
    }
  }
  const next = selector.targets.map((t) => (Object.hasOwn(weights, t.pool) ? { pool: t.pool, weight: weights[t.pool] as number } : t))
  if (next.every((t) => t.weight === 0)) throw new BadSplitWeightsError('weights must not all be zero')
  return new Split(selector.route, next)
}

/**
 * The selector of a route the gateway answers itself (`respond:`, `redirect:`): no targets.
 * Its stage answers before the pool decision, so `choose` is never reached on the request path;
 * a caller that asks anyway gets the same error as a route without a pool.
 */
export function noSplit(route: RouteSettings): SplitSelector {
  return Object.freeze({
    targets: Object.freeze([]) as readonly SplitTarget[],
    sticky: undefined,
    overrideHeader: undefined,
    choose(): SplitDecision {
      throw new BadRouteSettingError(route.name, 'the route answers itself (respond/redirect) and has no pool')
    },
  })
}
