/**
 * The canary controller: a gateway feature that runs one analysis (state-machine.ts) per route
 * with a `canary` block, feeds it each request's outcome, moves the route's split weights on
 * its decisions, and publishes every decision (event log, log line, metrics, webhook).
 *
 * - Observation: the route's stage (phase `late`, after authentication, so refused requests are
 *   not cohort outcomes) sets `ctx.observe`; the access log calls it with the request's context
 *   (the split's pool, whether a fallback pool served), status and time once the response has
 *   ended. A route without `canary` gets no stage and
 *   pays nothing.
 * - Weights: applied through the route's split selector (`withWeights`, one assignment, as
 *   `PUT /api/routes/:name/split` does), and re-asserted at every tick: the analysis owns them. The split's weighted rendezvous hashing keeps sticky
 *   cohorts monotonic: raising the candidate's weight only moves clients onto it.
 * - Reloads: an unchanged canary block (webhook aside) keeps its analysis, its step and its
 *   weights on the newly compiled route; a changed block starts again at step 1 and says so
 *   (`restarted` event); a removed block is dropped (`removed` event).
 * - One place decides: the controller lives in the gateway's main thread and decides from the
 *   numbers of every listener of this process. With worker threads (`server.workers` > 1) each
 *   worker's controller runs in reporting mode (`report`): it decides nothing, counts its
 *   cohorts' outcomes into the same windows and sends them in batches (one per route every
 *   100 ms at most, never per request); the main thread's controller merges them into its
 *   analyses as if it had seen the requests itself, decides, and the supervisor sends the
 *   weights it sets to every worker, which follow them (`CanaryLink`, service.ts).
 * - One place decides in a fleet: with `configSource.etcd` the controller decides nothing until
 *   the etcd side (src/config-source/canary-fleet.ts) makes this instance the fleet's leader
 *   (`CanaryFleetPort`, fleet.ts). Every instance adds the other instances' counts of the same
 *   window to its own (so each one shows the fleet's figures); only the leader ticks the
 *   analyses, and its decisions reach the others as persisted states that they apply.
 *
 * Metrics: `switchyard_canary_weight{route,pool}` (the weight each cohort's pool has now) and
 * `switchyard_canary_state{route}` (0 progressing, 1 paused, 2 promoted, 3 rolled-back).
 */
import { Gauge, type Registry } from 'prom-client'
import type { Logger } from 'pino'
import type { CanarySettings, GatewaySettings } from '../config/model.js'
import type { EventLog } from '../events.js'
import { metricsOnce } from '../metrics.js'
import type { Feature, PreparedFeature, RouteFeature } from '../pipeline/feature.js'
import type { OutcomeObserver } from '../request-context.js'
import { withWeights } from '../routing/split.js'
import type { CompiledRoute } from '../routing/types.js'
import { CohortWindow } from './cohort-window.js'
import { CanaryConflictError, CanaryNoLeaderError, UnknownCanaryError } from './errors.js'
import { registerCanaryFleet, sumReports, type CanaryFleetPort, type FleetCanaryState, type FleetCohortReport, type FleetInstanceReport, type FleetRole } from './fleet.js'
import {
  registerCanaryLink,
  registerCanaryService,
  type CanaryAdminAction,
  type CanaryCohortView,
  type CanaryReport,
  type CanaryService,
  type CanaryView,
  type CanaryWeight,
} from './service.js'
import { CanaryMachine, CanaryTransitionError, type CanaryDecision, type CanaryState, type Clock, type MachineSnapshot } from './state-machine.js'
import { createNotifier, fetchWebhook, type WebhookSender } from './webhook.js'

export const CANARY_STATE_VALUES: Readonly<Record<CanaryState, number>> = { progressing: 0, paused: 1, promoted: 2, 'rolled-back': 3 }

const monotonic: Clock = { now: () => performance.now() }

export interface CanaryFeatureDeps {
  readonly registry: Registry
  readonly log: Logger
  readonly events: EventLog
  /** What the admin API looks the service up by (the gateway handle). */
  readonly owner: object
  readonly clock?: Clock
  readonly webhook?: WebhookSender
  /**
   * Reporting mode (a worker thread of a multi-thread gateway): decide nothing; send the
   * cohorts' outcomes here in batches and run at the weights `CanaryLink.follow` is given.
   */
  readonly report?: (reports: CanaryReport[]) => void
  /**
   * Where shadow comparisons of this gateway's mirrors come from (`mirror.compare`): the
   * controller subscribes once, for routes whose canary has `gates.maxDivergence`.
   */
  readonly comparisons?: (listener: (route: string, result: 'match' | 'status' | 'body') => void) => void
}

/** Most time a worker's outcomes wait before they are sent to the deciding thread. */
const REPORT_PERIOD_MS = 100

interface Entry {
  readonly route: string
  readonly key: string
  readonly machine: CanaryMachine
  compiled: CompiledRoute | undefined
  webhook: CanarySettings['webhook']
  /** The last decision, for the API. */
  last: (CanaryDecision & { readonly time: string }) | undefined
  /** What the last decision's event said beyond the decision (e.g. `action: restarted`), for a fleet's followers. */
  lastExtra: Record<string, unknown> | undefined
  /** Deciding: which window the weight belongs to (changes with every decision). */
  epoch: number
  /** Reporting: what this thread counted since its last batch. */
  readonly out: { readonly baseline: CohortWindow; readonly candidate: CohortWindow; readonly shadow: { compared: number; diverged: number } } | undefined
}

interface CanaryMetrics {
  readonly weight: Gauge<'route' | 'pool'>
  readonly state: Gauge<'route'>
}

function canaryMetrics(registry: Registry): CanaryMetrics {
  return metricsOnce(registry, 'canary', () => ({
    weight: new Gauge({
      name: 'switchyard_canary_weight',
      help: "Split weight (percent) of each pool of a canary route, as the canary analysis set it",
      labelNames: ['route', 'pool'] as const,
      registers: [registry],
    }),
    state: new Gauge({
      name: 'switchyard_canary_state',
      help: 'Canary state per route: 0 progressing, 1 paused, 2 promoted, 3 rolled-back',
      labelNames: ['route'] as const,
      registers: [registry],
    }),
  }))
}

/** The analysis identity of a block: the webhook can change without restarting it. */
function keyOf(c: CanarySettings): string {
  const { webhook: _ignored, ...rest } = c
  return JSON.stringify(rest)
}

/** How often analyses are ticked: a tenth of the shortest interval, within 10 ms … 1 s. */
function tickPeriod(entries: ReadonlyMap<string, Entry>): number {
  let min = Infinity
  for (const e of entries.values()) min = Math.min(min, e.machine.settings.interval)
  return Math.max(10, Math.min(1000, Math.floor(min / 10)))
}

export function createCanaryFeature(deps: CanaryFeatureDeps): Feature {
  const clock = deps.clock ?? monotonic
  const metrics = canaryMetrics(deps.registry)
  const notifier = createNotifier(deps.webhook ?? fetchWebhook, deps.log)
  const report = deps.report
  const reporting = report !== undefined
  let entries = new Map<string, Entry>()
  /** Reporting: the weights the deciding thread set, by route. */
  const followed = new Map<string, CanaryWeight>()
  /** Deciding: listeners of weight changes (the worker supervisor). */
  const weightListeners: ((weights: CanaryWeight[]) => void)[] = []
  let epochs = 0
  let timer: NodeJS.Timeout | undefined
  let period = 0
  let started = false
  /** `configSource.etcd` is configured: decide only as the fleet's leader. */
  let fleetConfigured = false
  /** The fleet as the etcd side told it (after `join`). */
  let fleet:
    | {
        readonly instance: string
        readonly forward: (route: string, action: CanaryAdminAction) => Promise<void>
        role: FleetRole
        leader: string | undefined
        /** The other instances' latest reports. */
        reports: readonly FleetInstanceReport[]
        /** The last state published for each route (applied when this instance gets the block). */
        readonly states: Map<string, FleetCanaryState>
      }
    | undefined
  const stateListeners: ((s: FleetCanaryState | { readonly route: string; readonly removed: true }) => void)[] = []

  // Clock times (monotonic) shown as wall-clock times, with one fixed offset so a time never
  // changes between two reads.
  const wallOffset = Date.now() - clock.now()
  const isoAt = (t: number): string => new Date(wallOffset + t).toISOString()

  /** This thread decides: not a worker, and in a fleet, its leader. */
  function deciding(): boolean {
    return !reporting && (!fleetConfigured || fleet?.role === 'leader')
  }

  /** The entry's state for the fleet (times on the wall clock, which every instance shares). */
  function stateOf(e: Entry): FleetCanaryState {
    const m = e.machine.snapshot()
    return {
      route: e.route,
      key: e.key,
      epoch: e.epoch,
      by: fleet?.instance ?? '',
      state: m.state,
      index: m.index,
      weight: m.weight,
      stepStartedAt: wallOffset + m.stepStartedAt,
      waitingReported: m.waitingReported,
      history: m.history.map((h) => ({ ...h, at: wallOffset + h.at })),
      ...(e.last !== undefined ? { last: e.last } : {}),
      ...(e.lastExtra !== undefined ? { lastExtra: e.lastExtra } : {}),
    }
  }

  function snapshotOf(s: FleetCanaryState): MachineSnapshot {
    return {
      state: s.state,
      index: s.index,
      weight: s.weight,
      stepStartedAt: s.stepStartedAt - wallOffset,
      waitingReported: s.waitingReported,
      history: s.history.map((h) => ({ ...h, at: h.at - wallOffset })),
    }
  }

  /** The other instances' counts of the entry's window, added to this one's. */
  function refreshRemote(e: Entry): void {
    if (fleet === undefined) return
    const same: FleetCohortReport[] = []
    for (const r of fleet.reports) {
      const c = r.routes[e.route]
      if (c !== undefined && c.key === e.key && c.epoch === e.epoch) same.push(c)
    }
    e.machine.setRemote(sumReports(same))
  }

  /** Run the state the fleet's leader published (a follower, or a new leader taking over). */
  function adopt(e: Entry, s: FleetCanaryState): void {
    // An instance that has not had a state yet (epoch 0) ran step 1's weight: what it counted
    // is evidence for step 1, and is kept when the fleet is there.
    const firstStep = e.epoch === 0 && s.index === 0 && s.state === 'progressing' && e.machine.step === 1
    const sameWindow = s.epoch === e.epoch || firstStep
    e.machine.restore(snapshotOf(s), sameWindow)
    e.epoch = s.epoch
    if (s.epoch > epochs) epochs = s.epoch
    const fresh = s.last !== undefined && (e.last === undefined || e.last.time !== s.last.time || e.last.action !== s.last.action)
    if (s.last !== undefined) e.last = s.last
    e.lastExtra = s.lastExtra
    refreshRemote(e)
    applyWeight(e)
    publishGauges(e)
    if (weightListeners.length > 0) {
      const w = [weightMessage(e)]
      for (const l of weightListeners) l(w)
    }
    // The leader's decision, seen here too: in this instance's events and log (the webhook is the leader's).
    if (fresh && s.last !== undefined) {
      const detail = detailOf(e, s.last, { ...s.lastExtra, leader: s.by })
      deps.events.record('canary', detail)
      deps.log.info({ type: 'canary', ...detail }, `canary ${e.route}: ${s.last.action} (decided by the fleet's leader ${s.by})`)
    }
  }

  function leadershipEvent(leader: string | undefined, previous: string | undefined): void {
    const detail = { instance: fleet?.instance, role: fleet?.role, leader: leader ?? null, previous: previous ?? null }
    deps.events.record('canary.leader', detail)
    deps.log.info({ type: 'canary', ...detail }, leader === undefined ? 'canary: the fleet has no leader; weights hold' : `canary: the fleet's leader is ${leader}${leader === fleet?.instance ? ' (this instance)' : ''}`)
  }

  /** The weight the entry runs at: its analysis's, or (reporting) the deciding thread's for this block. */
  function weightOf(e: Entry): number {
    if (!reporting) return e.machine.weight
    const f = followed.get(e.route)
    return f !== undefined && f.key === e.key ? f.weight : e.machine.weight
  }

  function weightMessage(e: Entry): CanaryWeight {
    return { route: e.route, key: e.key, weight: e.machine.weight, epoch: e.epoch }
  }

  /** Reporting: send what this thread counted for the entry since its last batch. */
  function flush(e: Entry, into: CanaryReport[]): void {
    const out = e.out
    if (out === undefined) return
    const baseline = out.baseline.counts()
    const candidate = out.candidate.counts()
    const shadow = out.shadow.compared > 0 ? { ...out.shadow } : undefined
    if (baseline === undefined && candidate === undefined && shadow === undefined) return
    const f = followed.get(e.route)
    into.push({ route: e.route, key: e.key, epoch: f !== undefined && f.key === e.key ? f.epoch : -1, ...(baseline ? { baseline } : {}), ...(candidate ? { candidate } : {}), ...(shadow ? { shadow } : {}) })
    out.baseline.reset()
    out.candidate.reset()
    out.shadow.compared = 0
    out.shadow.diverged = 0
  }

  function send(reports: CanaryReport[]): void {
    if (reports.length === 0 || report === undefined) return
    try {
      report(reports)
    } catch (err) {
      deps.log.error({ type: 'canary', err }, 'canary: sending outcomes to the deciding thread failed')
    }
  }

  function applyWeight(e: Entry): void {
    const r = e.compiled
    if (r === undefined) return
    const s = e.machine.settings
    const w = weightOf(e)
    const want = { [s.baseline]: 100 - w, [s.candidate]: w }
    if (r.split.targets.every((t) => t.weight === want[t.pool])) return
    r.split = withWeights(r.split, want)
  }

  function publishGauges(e: Entry): void {
    // Reporting threads' series would be summed into the process's: the deciding thread's alone count.
    if (reporting) return
    const s = e.machine.settings
    metrics.weight.labels(e.route, s.baseline).set(100 - e.machine.weight)
    metrics.weight.labels(e.route, s.candidate).set(e.machine.weight)
    metrics.state.labels(e.route).set(CANARY_STATE_VALUES[e.machine.state])
  }

  function forgetGauges(e: Entry): void {
    const s = e.machine.settings
    metrics.weight.remove(e.route, s.baseline)
    metrics.weight.remove(e.route, s.candidate)
    metrics.state.remove(e.route)
  }

  function publish(e: Entry, d: CanaryDecision, extra: Record<string, unknown> = {}): void {
    const time = new Date().toISOString()
    e.last = { ...d, time }
    e.lastExtra = Object.keys(extra).length > 0 ? extra : undefined
    // Every decision but `waiting` starts a new window (or ends the analysis): counts made
    // before it (a worker's batch, another instance's report) are stale. Per route, above any
    // epoch the fleet has seen, so a follower never mistakes a new window for an old one.
    if (d.action !== 'waiting') {
      epochs = Math.max(epochs, e.epoch) + 1
      e.epoch = epochs
    }
    applyWeight(e)
    publishGauges(e)
    if (weightListeners.length > 0) {
      const w = [weightMessage(e)]
      for (const l of weightListeners) l(w)
    }
    if (fleet !== undefined && fleet.role === 'leader') {
      const state = stateOf(e)
      fleet.states.set(e.route, state)
      for (const l of stateListeners) l(state)
    }
    const detail = detailOf(e, d, extra)
    deps.events.record('canary', detail)
    const level = d.action === 'rolled-back' ? 'warn' : 'info'
    deps.log[level]({ type: 'canary', ...detail }, `canary ${e.route}: ${d.action}${d.reason !== undefined ? ` (${d.reason})` : ''}`)
    if (e.webhook !== undefined) notifier.send(e.webhook.url, e.webhook.timeout, { time, ...detail })
  }

  function detailOf(e: Entry, d: CanaryDecision, extra: Record<string, unknown>): Record<string, unknown> {
    const s = e.machine.settings
    return {
      route: e.route,
      action: d.action,
      state: d.state,
      step: d.step,
      steps: s.steps.length,
      weight: d.weight,
      baseline: s.baseline,
      candidate: s.candidate,
      by: d.by,
      ...(d.gate !== undefined ? { gate: d.gate } : {}),
      ...(d.reason !== undefined ? { reason: d.reason } : {}),
      ...(d.figures !== undefined ? { figures: d.figures } : {}),
      ...extra,
    }
  }

  function tick(): void {
    if (reporting) {
      const batch: CanaryReport[] = []
      for (const e of entries.values()) {
        flush(e, batch)
        // A runtime snapshot broadcast (PUT /api/routes/:name/split) is undone as on the deciding thread.
        applyWeight(e)
      }
      send(batch)
      return
    }
    const decides = deciding()
    for (const e of entries.values()) {
      // A timer callback must never throw: one route's trouble is logged, the others go on.
      try {
        if (fleet !== undefined) refreshRemote(e)
        // A fleet's follower (or an instance not yet told its role) runs the leader's weights.
        if (!decides) {
          applyWeight(e)
          continue
        }
        const d = e.machine.tick()
        if (d !== undefined) publish(e, d)
        // The analysis owns its route's weights: a manual PUT /api/routes/:name/split or a
        // fleet's runtime snapshot (configSource.etcd) is undone here, within one tick.
        else applyWeight(e)
      } catch (err) {
        deps.log.error({ type: 'canary', route: e.route, err }, `canary ${e.route}: tick failed`)
      }
    }
  }

  function schedule(): void {
    if (!started) return
    const want = entries.size === 0 ? 0 : reporting ? Math.min(REPORT_PERIOD_MS, tickPeriod(entries)) : tickPeriod(entries)
    if (want === period) return
    if (timer !== undefined) clearInterval(timer)
    timer = undefined
    period = want
    if (want > 0) {
      timer = setInterval(tick, want)
      timer.unref()
    }
  }

  function cohortView(e: Entry, cohort: 'baseline' | 'candidate', figures: ReturnType<CanaryMachine['figures']>): CanaryCohortView {
    const s = e.machine.settings
    const w = e.machine.weight
    return { pool: s[cohort], weight: cohort === 'candidate' ? w : 100 - w, ...figures[cohort] }
  }

  function view(e: Entry): CanaryView {
    const m = e.machine
    const s = m.settings
    const f = m.figures()
    return {
      route: e.route,
      state: m.state,
      step: m.step,
      steps: [...s.steps],
      weight: m.weight,
      interval: s.interval,
      stepStartedAt: isoAt(m.stepStartedAt),
      baseline: cohortView(e, 'baseline', f),
      candidate: cohortView(e, 'candidate', f),
      p99Ratio: f.p99Ratio,
      ...(f.divergence !== undefined ? { divergence: f.divergence } : {}),
      gates: { ...s.gates },
      history: m.history.map((h) => ({ ...h, at: isoAt(h.at) })),
      ...(e.last !== undefined ? { lastDecision: e.last } : {}),
      ...(fleetConfigured
        ? {
            fleet: {
              instance: fleet?.instance ?? null,
              role: fleet?.role ?? 'follower',
              leader: fleet?.leader ?? null,
              instances: fleet === undefined ? [] : [fleet.instance, ...fleet.reports.map((r) => r.instance)].sort(),
            },
          }
        : {}),
    }
  }

  const service: CanaryService = {
    list: () => [...entries.values()].map(view),
    get(route) {
      const e = entries.get(route)
      return e === undefined ? undefined : view(e)
    },
    act(route: string, action: CanaryAdminAction): CanaryView | Promise<CanaryView> {
      const e = entries.get(route)
      if (e === undefined) throw new UnknownCanaryError(route)
      if (!deciding() && !reporting) {
        // A fleet's follower: the leader runs the action (after the same check here, so a
        // conflict answers at once), and this instance answers once it has its decision.
        try {
          e.machine.check(action)
        } catch (err) {
          if (err instanceof CanaryTransitionError) throw new CanaryConflictError(err.message)
          throw err
        }
        if (fleet === undefined) throw new CanaryNoLeaderError('this instance has not joined the fleet yet (etcd unreachable?): no canary leader to run the action')
        return fleet.forward(route, action).then(() => view(entries.get(route) ?? e))
      }
      let d: CanaryDecision
      try {
        d = e.machine[action]()
      } catch (err) {
        if (err instanceof CanaryTransitionError) throw new CanaryConflictError(err.message)
        throw err
      }
      publish(e, d)
      return view(e)
    },
  }
  registerCanaryService(deps.owner, service)
  registerCanaryLink(deps.owner, {
    ingest(reports) {
      if (reporting) return
      for (const r of reports) {
        const e = entries.get(r.route)
        // Another block (this thread reloaded first, or the worker did) or another window: dropped.
        if (e === undefined || e.key !== r.key || e.epoch !== r.epoch) continue
        if (r.baseline !== undefined) e.machine.merge('baseline', r.baseline)
        if (r.candidate !== undefined) e.machine.merge('candidate', r.candidate)
        if (r.shadow !== undefined) e.machine.mergeShadow(r.shadow)
      }
    },
    weights: () => (reporting ? [] : [...entries.values()].map(weightMessage)),
    onWeights(listener) {
      weightListeners.push(listener)
    },
    follow(weights) {
      if (!reporting) return
      const batch: CanaryReport[] = []
      for (const w of weights) {
        const e = entries.get(w.route)
        // What was counted at the previous weight goes out tagged with the previous epoch.
        if (e !== undefined) flush(e, batch)
        followed.set(w.route, w)
        if (e !== undefined && e.key === w.key) applyWeight(e)
      }
      send(batch)
    },
  })

  const port: CanaryFleetPort = {
    join(instance, forward) {
      fleet = { instance, forward, role: 'follower', leader: undefined, reports: [], states: new Map() }
    },
    lead(persisted) {
      if (fleet === undefined) return []
      const previous = fleet.leader
      fleet.role = 'leader'
      fleet.leader = fleet.instance
      leadershipEvent(fleet.instance, previous)
      const out: FleetCanaryState[] = []
      for (const s of persisted) fleet.states.set(s.route, s)
      for (const e of entries.values()) {
        const p = fleet.states.get(e.route)
        if (p !== undefined && p.key === e.key) {
          // The rollout continues where the fleet left it: state, step, window start, history.
          if (p.epoch >= e.epoch) adopt(e, p)
          const state = stateOf(e)
          fleet.states.set(e.route, state)
          out.push(state)
          continue
        }
        // Nothing persisted for this block: the analysis starts here, with a fresh window.
        if (p !== undefined && p.epoch > e.epoch) e.epoch = p.epoch
        const m = e.machine.snapshot()
        e.machine.restore({ ...m, stepStartedAt: clock.now(), waitingReported: false }, false)
        publish(e, e.machine.started(), p !== undefined ? { action: 'restarted', reason: 'the canary block changed: the analysis starts again at step 1' } : {})
        out.push(fleet.states.get(e.route)!)
      }
      return out
    },
    follow(leader) {
      if (fleet === undefined) return
      const previous = fleet.leader
      const was = fleet.role
      fleet.role = 'follower'
      fleet.leader = leader
      if (previous !== leader || was === 'leader') leadershipEvent(leader, previous)
    },
    applyState(s) {
      if (fleet === undefined) return
      const known = fleet.states.get(s.route)
      if (known === undefined || known.key !== s.key || s.epoch >= known.epoch) fleet.states.set(s.route, s)
      const e = entries.get(s.route)
      if (e === undefined || e.key !== s.key) return
      if (fleet.role === 'leader' ? s.epoch <= e.epoch : s.epoch < e.epoch) return
      adopt(e, s)
    },
    setReports(reports) {
      if (fleet === undefined) return
      const self = fleet.instance
      fleet.reports = reports.filter((r) => r.instance !== self)
      for (const e of entries.values()) refreshRemote(e)
    },
    localReport() {
      const out: Record<string, FleetCohortReport> = {}
      for (const e of entries.values()) out[e.route] = { key: e.key, epoch: e.epoch, ...e.machine.localCounts() }
      return out
    },
    onState(listener) {
      stateListeners.push(listener)
    },
    async act(route, action) {
      return service.act(route, action)
    },
    reportPeriod() {
      let min = Infinity
      for (const e of entries.values()) min = Math.min(min, e.machine.settings.interval)
      return Math.max(50, Math.min(1000, Math.floor(min / 10)))
    },
    leave() {
      if (fleet === undefined) return
      fleet.role = 'follower'
    },
  }
  registerCanaryFleet(deps.owner, port)

  // Shadow answers of the candidate compared with the baseline's (mirror.compare), for the divergence gate.
  deps.comparisons?.((route, result) => {
    const e = entries.get(route)
    if (e === undefined || e.machine.settings.gates.maxDivergence === undefined) return
    const diverged = result !== 'match'
    if (e.out !== undefined) {
      e.out.shadow.compared++
      if (diverged) e.out.shadow.diverged++
    } else e.machine.recordComparison(diverged)
  })

  return {
    name: 'canary',
    prepare(next: GatewaySettings): PreparedFeature {
      const pending = new Map<string, Entry>()
      const fresh = new Map<string, 'started' | 'restarted'>()
      for (const r of next.routes) {
        const c = r.canary
        if (c === undefined) continue
        const key = keyOf(c)
        const existing = entries.get(r.name)
        if (existing !== undefined && existing.key === key) {
          pending.set(r.name, { ...existing, compiled: undefined, webhook: c.webhook })
          continue
        }
        fresh.set(r.name, existing === undefined ? 'started' : 'restarted')
        pending.set(r.name, {
          route: r.name,
          key,
          machine: new CanaryMachine(c, clock),
          compiled: undefined,
          webhook: c.webhook,
          last: undefined,
          lastExtra: undefined,
          epoch: 0,
          out: reporting ? { baseline: new CohortWindow(), candidate: new CohortWindow(), shadow: { compared: 0, diverged: 0 } } : undefined,
        })
      }
      return {
        compileRoute(route: CompiledRoute): RouteFeature | undefined {
          const e = pending.get(route.name)
          if (e === undefined || route.settings.canary === undefined) return undefined
          e.compiled = route
          const { baseline, candidate } = route.settings.canary
          // Bound to this configuration's entry: a request finishing after a reload that
          // restarted the analysis feeds the discarded one, never the new window.
          const machine = e.machine
          const out = e.out
          // A request its cohort's pool could not serve (a fallback pool answered) is that
          // cohort's failure, whatever the fallback answered.
          const observe: OutcomeObserver =
            out === undefined
              ? (ctx, status, ms) => {
                  const pool = ctx.pool
                  if (pool === candidate) machine.record('candidate', status, ms, ctx.fallbackUsed)
                  else if (pool === baseline) machine.record('baseline', status, ms, ctx.fallbackUsed)
                }
              : (ctx, status, ms) => {
                  const pool = ctx.pool
                  if (pool === candidate) out.candidate.record(status, ms, ctx.fallbackUsed)
                  else if (pool === baseline) out.baseline.record(status, ms, ctx.fallbackUsed)
                }
          return {
            stage: {
              phase: 'late',
              run: (_request, ctx) => {
                ctx.observe = observe
              },
            },
          }
        },
        commit() {
          const previous = entries
          // Entries share their machine with the previous configuration's: keep `last` in step.
          for (const [name, e] of pending) {
            const before = previous.get(name)
            if (before !== undefined && before.machine === e.machine) {
              e.last = before.last
              e.lastExtra = before.lastExtra
              e.epoch = before.epoch
            }
          }
          entries = pending
          if (reporting) {
            // The outcomes counted on a replaced block's route are that block's: sent before it goes.
            const batch: CanaryReport[] = []
            for (const [name, e] of previous) if (entries.get(name)?.out !== e.out) flush(e, batch)
            send(batch)
            for (const name of followed.keys()) if (!entries.has(name)) followed.delete(name)
            for (const e of entries.values()) applyWeight(e)
            schedule()
            return
          }
          fleetConfigured = next.configSource?.etcd !== undefined
          const decides = deciding()
          for (const [name, e] of previous) {
            const now = entries.get(name)
            if (now === undefined || now.machine !== e.machine) forgetGauges(e)
            if (now === undefined && decides && fleet !== undefined) for (const l of stateListeners) l({ route: name, removed: true })
            if (now === undefined) {
              deps.events.record('canary', { route: name, action: 'removed', state: e.machine.state, weight: e.machine.weight, reason: 'the canary block is no longer configured' })
              deps.log.info({ type: 'canary', route: name }, `canary ${name}: removed from the configuration`)
            }
          }
          for (const e of entries.values()) {
            const how = fresh.get(e.route)
            const known = fleet?.states.get(e.route)
            if (how === undefined) {
              // Kept across the reload: the new route starts from the file's weights.
              applyWeight(e)
              publishGauges(e)
            } else if (!decides) {
              // A fleet's follower: the leader starts it; the state it published for this block, if any, applies.
              if (known !== undefined && known.key === e.key) adopt(e, known)
              else {
                applyWeight(e)
                publishGauges(e)
              }
            } else publish(e, e.machine.started(), how === 'restarted' ? { action: 'restarted', reason: 'the canary block changed: the analysis starts again at step 1' } : {})
          }
          schedule()
        },
      }
    },
    start() {
      started = true
      schedule()
    },
    close() {
      if (reporting) {
        const batch: CanaryReport[] = []
        for (const e of entries.values()) flush(e, batch)
        send(batch)
      }
      started = false
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
      period = 0
      notifier.close()
    },
  }
}
