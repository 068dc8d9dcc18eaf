/**
 * Helpers for the upstream-layer tests: settings builders, a manual clock, a seeded random
 * source, and stand-in backends for the pure balancing logic (balancers read only weights,
 * counts and availability; no network is involved there).
 */
import type { PoolSettings } from '../../src/config/model.js'
import type { Backend, Clock, LoadReport, SelectionContext } from '../../src/upstream/types.js'

export class ManualClock implements Clock {
  t = 1_000_000
  now(): number {
    return this.t
  }
  advance(ms: number): void {
    this.t += ms
  }
}

/** mulberry32: a tiny seeded PRNG so distribution tests are deterministic. */
export function seededRandom(seed = 42): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function poolSettings(overrides: Partial<PoolSettings> & { backends?: PoolSettings['backends'] } = {}): PoolSettings {
  return {
    name: 'p',
    algorithm: 'round-robin',
    hashOn: { kind: 'ip' },
    backends: [],
    slowStart: 0,
    retry: { attempts: 1, on: ['connect-error', 'reset', 502, 503, 504], budget: 0.2 },
    timeouts: { connect: 2000, response: 30_000 },
    ...overrides,
  }
}

export interface StubBackend extends Backend {
  weight: number
  activeRequests: number
  available: boolean
  responseTimeMs: number | undefined
  load: LoadReport | undefined
  availableSince: number | undefined
}

/** A stand-in for balancer tests: only the fields balancers read are meaningful. */
export function stub(name: string, weight = 1): StubBackend {
  const origin = `http://${name}.test:80`
  return {
    id: `p|${origin}`,
    poolName: 'p',
    origin,
    url: new URL(origin),
    weight,
    configuredWeight: weight,
    weightOverride: undefined,
    state: 'enabled',
    connection: { connectTimeout: 1000, rejectUnauthorized: true },
    attachment: () => undefined as never,
    breaker: undefined as never,
    activeRequests: 0,
    settledRequests: 0,
    tunnels: 0,
    healthy: true,
    stickyToken: name,
    available: true,
    responseTimeMs: undefined,
    load: undefined,
    availableSince: undefined,
    get inFlight() {
      return this.activeRequests
    },
    isAvailable() {
      return this.available
    },
  }
}

export const ctx = (clientIp = '10.0.0.1', hashKey?: string): SelectionContext => ({ clientIp, hashKey })

/** The first candidate. */
export function pick(it: Iterable<Backend>): Backend | undefined {
  for (const b of it) return b
  return undefined
}

/** Counts first choices by origin over n selections. */
export function tally(n: number, choose: (i: number) => Backend | undefined): Map<string, number> {
  const m = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const b = choose(i)
    const k = b?.origin ?? 'none'
    m.set(k, (m.get(k) ?? 0) + 1)
  }
  return m
}
