/**
 * The backend order a pool's balancer would use for a request, without disturbing it.
 *
 * `Pool.candidates` runs the live balancer, and several balancers keep state between calls
 * (round-robin position, smooth-WRR credits, least-connections tie rotation): asking the live
 * one would move real traffic. The pool layer offers no read-only preview, so explain builds a
 * private balancer of the same algorithm over the same backends. Everything that depends only
 * on the request and the backends' state (hashes, in-flight counts, response times, health,
 * breakers, sticky-session cookies) gives the order the gateway would use; what depends on the
 * live balancer's history (the rotation position) or on chance does not, and `order` says which
 * case applies.
 */
import type { Algorithm, KeySource, PoolSettings } from '../config/model.js'
import { readCookie } from '../routing/split.js'
import { createBalancer } from '../upstream/balancers/index.js'
import type { Backend, Balancer, Pool } from '../upstream/types.js'

/** How far the previewed order can be trusted. */
export type OrderKind = 'exact' | 'rotation' | 'random'

const ORDER: Readonly<Record<Algorithm, OrderKind>> = {
  'round-robin': 'rotation',
  'weighted-round-robin': 'rotation',
  'least-connections': 'exact',
  'least-response-time': 'exact',
  'ip-hash': 'exact',
  'consistent-hash': 'exact',
  random: 'random',
  'power-of-two-choices': 'random',
  'resource-based': 'random',
}

export const ORDER_NOTES: Readonly<Record<OrderKind, string>> = {
  exact: 'the order the balancer uses for this request',
  rotation: 'rotation order from the start of the cycle: the live balancer continues from where its last request left off',
  random: 'one sample of a randomised choice: another request may get another order',
}

/** What a key source reads from the described request. */
export interface KeyInput {
  readonly clientIp: string
  readonly path: string
  readonly query: string
  readonly route: string | undefined
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly claims: Readonly<Record<string, unknown>> | undefined
}

/** The value a key source takes for a request (as src/proxy/forward.ts reads it), or undefined. */
export function keyValueOf(source: KeySource, input: KeyInput): string | undefined {
  switch (source.kind) {
    case 'ip':
      return input.clientIp
    case 'path':
      return input.path
    case 'route':
      return input.route
    case 'header': {
      const v = input.headers[source.name]
      return Array.isArray(v) ? v[0] : v
    }
    case 'cookie': {
      const c = input.headers.cookie
      return readCookie(Array.isArray(c) ? c.join('; ') : c, source.name)
    }
    case 'query':
      return input.query === '' ? undefined : (new URLSearchParams(input.query).get(source.name) ?? undefined)
    case 'jwt': {
      const v = input.claims?.[source.claim]
      return v === undefined || v === null ? undefined : typeof v === 'string' ? v : JSON.stringify(v)
    }
  }
}

// One private balancer per pool settings object: a reload makes new settings, so new previews.
const previews = new WeakMap<PoolSettings, Balancer>()

function previewBalancer(settings: PoolSettings): Balancer {
  let b = previews.get(settings)
  // Rotation balancers are rebuilt each time so every preview starts at the cycle's start.
  if (b === undefined || ORDER[settings.algorithm] === 'rotation') {
    b = createBalancer(settings)
    previews.set(settings, b)
  }
  return b
}

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
  for (const b of previewBalancer(settings).candidates(pool.backends, { clientIp: input.clientIp, hashKey })) if (b !== pinned) out.push(b)
  return { backends: out, pinned, order: pinned !== undefined && out.length === 1 ? 'exact' : ORDER[pool.algorithm], hashKey }
}
