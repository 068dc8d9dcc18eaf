/**
 * The one walk from a chosen pool to the backends that may serve a request: the sticky-session
 * pin, then the pool's balancer order, then each fallback pool's (and its fallback's), never
 * visiting a pool twice. Plain requests, WebSocket upgrades, mirrors, cache fills and
 * revalidations (they go through the forward chain) and explain all walk it, so they cannot
 * disagree about where a request goes.
 *
 * Candidates are lazy (Pingora's selection iterators): the common case computes one choice,
 * retries pull the next. `preview` is the same walk without moving any balancer state.
 */
import type { KeySource, PoolSettings } from '../config/model.js'
import { keyValueOf, type KeyInput } from '../routing/key-value.js'
import type { Backend, Pool, PoolRegistry, SelectionContext } from './types.js'

/** How far a previewed order can be trusted. */
export type OrderKind = 'exact' | 'random'

const RANDOMISED = new Set(['random', 'power-of-two-choices', 'resource-based'])

/** One pool of a previewed chain. */
export interface PoolPreview {
  readonly pool: Pool
  /** `split` for the pool the decision chose, `fallback` for the pools after it. */
  readonly role: 'split' | 'fallback'
  /** Available backends in try order: the first is the choice, the next ones serve retries. */
  readonly backends: readonly Backend[]
  /** The backend a sticky-session cookie pins the client to, when it names an available one. */
  readonly pinned: Backend | undefined
  readonly order: OrderKind
  /** The pool's `hashOn` value for consistent-hash pools. */
  readonly hashKey: string | undefined
  /** The last resort: nothing above was available, so these are tried anyway. */
  readonly lastResort?: boolean
}

const STICKY_COOKIE_SOURCES = new WeakMap<PoolSettings, KeySource>()

function stickySource(settings: PoolSettings): KeySource | undefined {
  const sticky = settings.stickySession
  if (sticky === undefined) return undefined
  let s = STICKY_COOKIE_SOURCES.get(settings)
  if (s === undefined) STICKY_COOKIE_SOURCES.set(settings, (s = { kind: 'cookie', name: sticky.cookie }))
  return s
}

/** What the pool's balancer is given for this request (the hash key only where it is used). */
export function selectionFor(pool: Pool, input: KeyInput): SelectionContext {
  return { clientIp: input.clientIp, hashKey: pool.algorithm === 'consistent-hash' ? keyValueOf(pool.settings.hashOn, input) : undefined }
}

/** The backend `input`'s session cookie pins it to in `pool`, if it names an available one. */
export function pinnedBackend(pool: Pool, input: KeyInput): Backend | undefined {
  const source = stickySource(pool.settings)
  if (source === undefined) return undefined
  const token = keyValueOf(source, input)
  return token === undefined ? undefined : pool.backendForToken(token)
}

function* pinnedFirst(pinned: Backend, rest: Iterable<Backend>): Generator<Backend> {
  yield pinned
  for (const b of rest) if (b !== pinned) yield b
}

/** The candidates of one pool for this request: the sticky pin first, then the balancer's order. */
export function poolCandidates(pool: Pool, input: KeyInput): Iterable<Backend> {
  const pinned = pinnedBackend(pool, input)
  const rest = pool.candidates(selectionFor(pool, input))
  return pinned === undefined ? rest : pinnedFirst(pinned, rest)
}

/**
 * The pools of the chain starting at `first`: it, then its fallback, and so on, each once.
 * Unknown names end the chain. Allocates the visited list only when a fallback is reached.
 */
export function* chainPools(pools: PoolRegistry, first: string | undefined): Generator<Pool> {
  let name = first
  let visited: string[] | undefined
  while (name !== undefined) {
    const pool = pools.get(name)
    if (pool === undefined) return
    yield pool
    ;(visited ??= []).push(name)
    name = pool.fallback
    if (name !== undefined && visited.includes(name)) return
  }
}

/** One pool of the walk with the backends to try there, in order. */
export interface ChainStep {
  readonly pool: Pool
  readonly candidates: Iterable<Backend>
  /**
   * True for the last resort (SPEC §5): nothing in the pool or its fallback chain was
   * available, so the chosen pool's backends are tried anyway, health and breaker ignored.
   * Take leases with `pool.acquireLastResort`.
   */
  readonly lastResort: boolean
}

/**
 * The whole walk for a request: each pool of the chain with its candidates, then, when the
 * caller has found nothing to try (`triedAny()` is false), the last resort on the first pool.
 */
export function* chainSteps(pools: PoolRegistry, first: string | undefined, input: KeyInput, triedAny: () => boolean): Generator<ChainStep> {
  let head: Pool | undefined
  for (const pool of chainPools(pools, first)) {
    head ??= pool
    yield { pool, candidates: poolCandidates(pool, input), lastResort: false }
  }
  if (head !== undefined && !triedAny() && head.backends.length > 0) yield { pool: head, candidates: head.lastResortOrder(), lastResort: true }
}

/** A lease for `backend` as `step` says: the normal way, or the last resort. */
export function leaseFor(step: ChainStep, backend: Backend): ReturnType<Pool['acquire']> {
  return step.lastResort ? step.pool.acquireLastResort(backend) : step.pool.acquire(backend)
}

/**
 * The first backend along the chain that grants a lease, with the pool it belongs to; for
 * single-shot users (WebSocket tunnels, mirrors of one pool) that do not retry.
 */
export function firstLease(
  pools: PoolRegistry,
  first: string | undefined,
  input: KeyInput,
  { followFallbacks = true, lastResort = true }: { readonly followFallbacks?: boolean; readonly lastResort?: boolean } = {},
): { pool: Pool; lease: NonNullable<ReturnType<Pool['acquire']>>; lastResort: boolean } | undefined {
  let head: Pool | undefined
  for (const pool of chainPools(pools, first)) {
    head ??= pool
    for (const b of poolCandidates(pool, input)) {
      const lease = pool.acquire(b)
      if (lease !== null) return { pool, lease, lastResort: false }
    }
    if (!followFallbacks) break
  }
  if (head === undefined || !lastResort) return undefined
  for (const b of head.lastResortOrder()) {
    const lease = head.acquireLastResort(b)
    if (lease !== null) return { pool: head, lease, lastResort: true }
  }
  return undefined
}

/**
 * The chain as the data plane would walk it now, without changing balancer state. The data
 * plane leaves a pool for its fallback only when nothing there could be tried, so the preview
 * stops at the first pool that has a candidate.
 */
export function previewChain(pools: PoolRegistry, first: string | undefined, input: KeyInput): PoolPreview[] {
  const out: PoolPreview[] = []
  for (const pool of chainPools(pools, first)) {
    const sel = selectionFor(pool, input)
    // backendForToken is a map lookup plus an availability check: no state changes.
    const pinned = pinnedBackend(pool, input)
    const backends: Backend[] = pinned === undefined ? [] : [pinned]
    for (const b of pool.preview(sel)) if (b !== pinned) backends.push(b)
    const order: OrderKind = pinned !== undefined && backends.length === 1 ? 'exact' : RANDOMISED.has(pool.algorithm) ? 'random' : 'exact'
    out.push({ pool, role: out.length === 0 ? 'split' : 'fallback', backends, pinned, order, hashKey: sel.hashKey })
    if (backends.length > 0) return out
  }
  const head = out[0]?.pool
  if (head !== undefined && head.backends.length > 0) {
    out.push({ pool: head, role: 'split', backends: head.lastResortOrder(true), pinned: undefined, order: 'exact', hashKey: undefined, lastResort: true })
  }
  return out
}
