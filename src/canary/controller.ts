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
 *   numbers of every listener of this process.
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
import { CanaryConflictError, UnknownCanaryError } from './errors.js'
import { registerCanaryService, type CanaryAdminAction, type CanaryCohortView, type CanaryService, type CanaryView } from './service.js'
import { CanaryMachine, CanaryTransitionError, type CanaryDecision, type CanaryState, type Clock } from './state-machine.js'
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
}

interface Entry {
  readonly route: string
  readonly key: string
  readonly machine: CanaryMachine
  compiled: CompiledRoute | undefined
  webhook: CanarySettings['webhook']
  /** The last decision, for the API. */
  last: (CanaryDecision & { readonly time: string }) | undefined
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
  let entries = new Map<string, Entry>()
  let timer: NodeJS.Timeout | undefined
  let period = 0
  let started = false

  // Clock times (monotonic) shown as wall-clock times, with one fixed offset so a time never
  // changes between two reads.
  const epoch = Date.now() - clock.now()
  const isoAt = (t: number): string => new Date(epoch + t).toISOString()

  function applyWeight(e: Entry): void {
    const r = e.compiled
    if (r === undefined) return
    const s = e.machine.settings
    const w = e.machine.weight
    const want = { [s.baseline]: 100 - w, [s.candidate]: w }
    if (r.split.targets.every((t) => t.weight === want[t.pool])) return
    r.split = withWeights(r.split, want)
  }

  function publishGauges(e: Entry): void {
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
    applyWeight(e)
    publishGauges(e)
    const s = e.machine.settings
    const detail: Record<string, unknown> = {
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
    deps.events.record('canary', detail)
    const level = d.action === 'rolled-back' ? 'warn' : 'info'
    deps.log[level]({ type: 'canary', ...detail }, `canary ${e.route}: ${d.action}${d.reason !== undefined ? ` (${d.reason})` : ''}`)
    if (e.webhook !== undefined) notifier.send(e.webhook.url, e.webhook.timeout, { time, ...detail })
  }

  function tick(): void {
    for (const e of entries.values()) {
      // A timer callback must never throw: one route's trouble is logged, the others go on.
      try {
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
    const want = entries.size === 0 ? 0 : tickPeriod(entries)
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
      gates: { ...s.gates },
      history: m.history.map((h) => ({ ...h, at: isoAt(h.at) })),
      ...(e.last !== undefined ? { lastDecision: e.last } : {}),
    }
  }

  const service: CanaryService = {
    list: () => [...entries.values()].map(view),
    get(route) {
      const e = entries.get(route)
      return e === undefined ? undefined : view(e)
    },
    act(route: string, action: CanaryAdminAction): CanaryView {
      const e = entries.get(route)
      if (e === undefined) throw new UnknownCanaryError(route)
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
        pending.set(r.name, { route: r.name, key, machine: new CanaryMachine(c, clock), compiled: undefined, webhook: c.webhook, last: undefined })
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
          // A request its cohort's pool could not serve (a fallback pool answered) is that
          // cohort's failure, whatever the fallback answered.
          const observe: OutcomeObserver = (ctx, status, ms) => {
            const pool = ctx.pool
            if (pool === candidate) machine.record('candidate', status, ms, ctx.fallbackUsed)
            else if (pool === baseline) machine.record('baseline', status, ms, ctx.fallbackUsed)
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
            if (before !== undefined && before.machine === e.machine) e.last = before.last
          }
          entries = pending
          for (const [name, e] of previous) {
            const now = entries.get(name)
            if (now === undefined || now.machine !== e.machine) forgetGauges(e)
            if (now === undefined) {
              deps.events.record('canary', { route: name, action: 'removed', state: e.machine.state, weight: e.machine.weight, reason: 'the canary block is no longer configured' })
              deps.log.info({ type: 'canary', route: name }, `canary ${name}: removed from the configuration`)
            }
          }
          for (const e of entries.values()) {
            const how = fresh.get(e.route)
            if (how === undefined) {
              // Kept across the reload: the new route starts from the file's weights.
              applyWeight(e)
              publishGauges(e)
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
      started = false
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
      period = 0
      notifier.close()
    },
  }
}
