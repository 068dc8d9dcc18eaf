/**
 * Runtime changes: what the operator changed through the admin API beyond the configuration
 * file (split weights, backend states and weight overrides), as one plain snapshot. Instances of
 * a fleet share it (src/config-source/etcd-sync.ts): each publishes its snapshot after a change
 * and applies the others', so the fleet converges on the last one written. Framework-free.
 */
import type { CompiledRoute, RouteTable, SplitSelector } from './routing/types.js'
import { withWeights } from './routing/split.js'
import type { BackendState, ManagedPoolRegistry } from './upstream/types.js'

export interface RuntimeSnapshot {
  /** Route name → pool → weight, for routes whose split differs from the file's. */
  readonly splits: Readonly<Record<string, Readonly<Record<string, number>>>>
  /** Pool → backend origin → state and weight override, for backends changed at run time. */
  readonly backends: Readonly<Record<string, Readonly<Record<string, { readonly state?: BackendState; readonly weight?: number }>>>>
}

const STATES: readonly string[] = ['enabled', 'drain', 'disabled']

/** The runtime changes in force now. `compiled` maps each route to the split its file gave it. */
export function takeRuntimeSnapshot(routes: RouteTable, compiled: WeakMap<CompiledRoute, SplitSelector>, pools: Pick<ManagedPoolRegistry, 'all'>): RuntimeSnapshot {
  const splits: Record<string, Record<string, number>> = {}
  for (const r of routes.routes) {
    if (compiled.get(r) === r.split) continue
    splits[r.name] = Object.fromEntries(r.split.targets.map((t) => [t.pool, t.weight]))
  }
  const backends: Record<string, Record<string, { state?: BackendState; weight?: number }>> = {}
  for (const p of pools.all()) {
    for (const b of p.backends) {
      if (b.state === 'enabled' && b.weightOverride === undefined) continue
      ;(backends[p.name] ??= {})[b.origin] = { state: b.state, ...(b.weightOverride !== undefined ? { weight: b.weightOverride } : {}) }
    }
  }
  return { splits, backends }
}

/**
 * Makes the runtime changes equal `snapshot`: splits and backends it names take its values;
 * those it does not name return to the file's. Returns what could not be applied (an unknown
 * route, pool or backend, or weights the split refuses), for the log.
 */
export function applyRuntimeSnapshot(
  snapshot: RuntimeSnapshot,
  routes: RouteTable,
  compiled: WeakMap<CompiledRoute, SplitSelector>,
  pools: Pick<ManagedPoolRegistry, 'all' | 'get' | 'setBackend'>,
): string[] {
  const skipped: string[] = []
  for (const r of routes.routes) {
    const wanted = snapshot.splits[r.name]
    const file = compiled.get(r)
    if (wanted === undefined) {
      if (file !== undefined && r.split !== file) r.split = file
      continue
    }
    try {
      r.split = withWeights(file ?? r.split, wanted)
    } catch (err) {
      skipped.push(`route ${r.name}: ${(err as Error).message}`)
    }
  }
  for (const name of Object.keys(snapshot.splits)) if (routes.get(name) === undefined) skipped.push(`route ${name}: not configured here`)
  for (const p of pools.all()) {
    const wanted = snapshot.backends[p.name] ?? {}
    for (const b of p.backends) {
      const w = wanted[b.origin]
      const state = w?.state !== undefined && STATES.includes(w.state) ? w.state : 'enabled'
      const weight = w?.weight ?? null
      if (b.state !== state || (b.weightOverride ?? null) !== weight) pools.setBackend(p.name, b.origin, { state, weight })
    }
  }
  for (const [pool, backends] of Object.entries(snapshot.backends)) {
    const p = pools.get(pool)
    if (p === undefined) {
      skipped.push(`pool ${pool}: not configured here`)
      continue
    }
    for (const origin of Object.keys(backends)) if (!p.backends.some((b) => b.origin === origin)) skipped.push(`backend ${origin} of pool ${pool}: not configured here`)
  }
  return skipped
}
