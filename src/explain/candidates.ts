/**
 * The backend order a pool's balancer would use for a request, without disturbing it.
 *
 * `Pool.candidates` runs the live balancer, and several balancers keep state between calls
 * (round-robin position, smooth-WRR credits, least-connections tie rotation): asking it would
 * move real traffic. `Pool.preview` runs a fork of the balancer in the same state instead, so
 * the order is the one the next request would get, for every algorithm but the randomised
 * ones, where it is one sample; `order` says which case applies.
 */
import type { Algorithm, KeySource } from '../config/model.js'
import { keyValueOf, type KeyInput } from '../routing/key-value.js'
import type { Backend, Pool } from '../upstream/types.js'

/** How far the previewed order can be trusted. */
export type OrderKind = 'exact' | 'random'

const ORDER: Readonly<Record<Algorithm, OrderKind>> = {
  'round-robin': 'exact',
  'weighted-round-robin': 'exact',
  'least-connections': 'exact',
  'least-response-time': 'exact',
  'ip-hash': 'exact',
  'consistent-hash': 'exact',
  random: 'random',
  'power-of-two-choices': 'random',
  'resource-based': 'random',
}

export const ORDER_NOTES: Readonly<Record<OrderKind, string>> = {
  exact: 'the order the balancer would use for this request now',
  random: 'one sample of a randomised choice: another request may get another order',
}

/** What a key source reads from the described request. */
export type { KeyInput } from '../routing/key-value.js'
export { keyValueOf } from '../routing/key-value.js'

export interface CandidatePreview {
  /** Available backends in try order: the first is the choice, the next ones serve retries. */
  readonly backends: readonly Backend[]
  /** The backend a sticky-session cookie pins the client to, when it names an available one. */
  readonly pinned: Backend | undefined
  readonly order: OrderKind
  /** The pool's `hashOn` value for consistent-hash pools. */
  readonly hashKey: string | undefined
}

/** Side-effect-free candidate order of `pool` for the described request. */
export function previewCandidates(pool: Pool, input: KeyInput): CandidatePreview {
  const settings = pool.settings
  const hashKey = pool.algorithm === 'consistent-hash' ? keyValueOf(settings.hashOn, input) : undefined
  let pinned: Backend | undefined
  if (settings.stickySession !== undefined) {
    const token = keyValueOf({ kind: 'cookie', name: settings.stickySession.cookie }, input)
    // backendForToken is a map lookup plus an availability check: no state changes.
    if (token !== undefined) pinned = pool.backendForToken(token)
  }
  const out: Backend[] = pinned === undefined ? [] : [pinned]
  for (const b of pool.preview({ clientIp: input.clientIp, hashKey })) if (b !== pinned) out.push(b)
  return { backends: out, pinned, order: pinned !== undefined && out.length === 1 ? 'exact' : ORDER[pool.algorithm], hashKey }
}
