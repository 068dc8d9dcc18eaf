/**
 * How far explain's backend order can be trusted, per algorithm. The order itself comes from
 * the pool chain's preview (upstream/pool-chain.ts), the same walk the data plane makes.
 *
 * `Pool.candidates` runs the live balancer, and several balancers keep state between calls
 * (round-robin position, smooth-WRR credits, least-connections tie rotation): asking it would
 * move real traffic. `Pool.preview` runs a fork of the balancer in the same state instead, so
 * the order is the one the next request would get, for every algorithm but the randomised
 * ones, where it is one sample; `order` says which case applies.
 */
import type { Algorithm } from '../config/model.js'

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
