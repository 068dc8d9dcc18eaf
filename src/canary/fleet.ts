/**
 * A fleet's canaries (several instances sharing `configSource.etcd`): one instance, the
 * leader, decides every canary from the whole fleet's numbers; the others follow its decisions.
 * This file is the plain-data contract between the canary controller (controller.ts) and the
 * etcd side (src/config-source/canary-fleet.ts), which elects the leader and carries these
 * values through etcd as JSON. Nothing here touches the network.
 *
 * - Every instance counts its own share of both cohorts for the current window (the epoch the
 *   leader's last decision started) and publishes it as a `FleetInstanceReport` (cumulative for
 *   that epoch, so a report replaces the previous one: nothing is counted twice).
 * - Every instance adds the other instances' reports of the same block and epoch to its own
 *   counts: each one's `GET /api/canaries` shows the fleet's figures, and the leader's gates
 *   judge them.
 * - The leader publishes a `FleetCanaryState` on every decision (the state, step, weight, the
 *   step's start, the decided steps and the last decision); it is kept in etcd, so a new leader
 *   continues from it, and followers apply it (weights, state, a new window).
 */
import type { CanaryAdminAction } from './service.js'
import type { CohortPair, MachineSnapshot, StepRecord } from './state-machine.js'
import type { CanaryDecision } from './state-machine.js'

/** One canary route as the leader decided it (persisted). Times are wall-clock milliseconds. */
export interface FleetCanaryState extends Omit<MachineSnapshot, 'history'> {
  readonly route: string
  /** The analysis identity (the canary block): an instance on another block ignores it. */
  readonly key: string
  /** The window it started: every decision that restarts the counts starts a new one. */
  readonly epoch: number
  /** The instance that decided it. */
  readonly by: string
  readonly history: readonly StepRecord[]
  readonly last?: CanaryDecision & { readonly time: string }
  /** What the last decision's event said beyond it (`action: restarted` and its reason). */
  readonly lastExtra?: Record<string, unknown>
}

/** One route's counts in one instance for one window. */
export interface FleetCohortReport extends CohortPair {
  readonly key: string
  readonly epoch: number
}

/** What one instance publishes (under a key of its own lease: it vanishes with the instance). */
export interface FleetInstanceReport {
  readonly instance: string
  /** Wall-clock ms of the report. */
  readonly at: number
  readonly routes: Readonly<Record<string, FleetCohortReport>>
}

export type FleetRole = 'leader' | 'follower'

/** The fleet as one instance sees it (GET /api/canaries `fleet`). */
export interface FleetView {
  /** This instance's id. */
  readonly instance: string
  readonly role: FleetRole
  /** The leader's id; null while there is none (no decisions then: the weights hold). */
  readonly leader: string | null
  /** Instances whose reports are live (this one included). */
  readonly instances: readonly string[]
}

/** The controller's side, driven by the etcd side. */
export interface CanaryFleetPort {
  /**
   * The gateway is one instance of a fleet: it decides nothing until `lead`. Called once, before
   * any other call. `forward` carries an operator action from a follower to the leader.
   */
  join(instance: string, forward: (route: string, action: CanaryAdminAction) => Promise<void>): void
  /**
   * This instance is the leader now: continue from the persisted states (those of the same block;
   * the others' analyses start, or restart, here). Returns the states to persist.
   */
  lead(persisted: readonly FleetCanaryState[]): FleetCanaryState[]
  /** Another instance leads (or none: undefined). */
  follow(leader: string | undefined): void
  /** A state the leader published (ignored by the leader itself, unless newer than its own). */
  applyState(state: FleetCanaryState): void
  /** The other instances' latest reports (all of them, every time). */
  setReports(reports: readonly FleetInstanceReport[]): void
  /** This instance's counts of the current windows, by route. */
  localReport(): Record<string, FleetCohortReport>
  /** Leader: every decision's state (to persist), and routes whose canary was removed (`removed`). */
  onState(listener: (state: FleetCanaryState | { readonly route: string; readonly removed: true }) => void): void
  /** Leader: run an operator action forwarded by a follower (throws as the admin call would). */
  act(route: string, action: CanaryAdminAction): Promise<unknown>
  /** How often reports are worth sending (ms): a tenth of the shortest interval, 50 ms … 1 s. */
  reportPeriod(): number
  /** The instance left the fleet (closing): no more leading. */
  leave(): void
}

const ports = new WeakMap<object, CanaryFleetPort>()

export function registerCanaryFleet(owner: object, port: CanaryFleetPort): void {
  ports.set(owner, port)
}

export function canaryFleetOf(owner: object): CanaryFleetPort | undefined {
  return ports.get(owner)
}

/** The sum of several instances' counts (exact: the histograms share their buckets). */
export function sumReports(reports: readonly CohortPair[]): CohortPair | undefined {
  let baseline: Sum | undefined
  let candidate: Sum | undefined
  for (const r of reports) {
    if (r.baseline !== undefined) baseline = add(baseline, r.baseline)
    if (r.candidate !== undefined) candidate = add(candidate, r.candidate)
  }
  let shadow: { compared: number; diverged: number } | undefined
  for (const r of reports) {
    if (r.shadow === undefined) continue
    shadow ??= { compared: 0, diverged: 0 }
    shadow.compared += r.shadow.compared
    shadow.diverged += r.shadow.diverged
  }
  if (baseline === undefined && candidate === undefined && shadow === undefined) return undefined
  return { ...(baseline ? { baseline } : {}), ...(candidate ? { candidate } : {}), ...(shadow ? { shadow } : {}) }
}

interface Sum {
  requests: number
  errors: number
  maxMs: number
  buckets: number[]
}

function add(into: Sum | undefined, c: NonNullable<CohortPair['baseline']>): Sum {
  const s = into ?? { requests: 0, errors: 0, maxMs: 0, buckets: [] }
  s.requests += c.requests
  s.errors += c.errors
  if (c.maxMs > s.maxMs) s.maxMs = c.maxMs
  for (let i = 0; i < c.buckets.length; i++) s.buckets[i] = (s.buckets[i] ?? 0) + (c.buckets[i] ?? 0)
  return s
}
