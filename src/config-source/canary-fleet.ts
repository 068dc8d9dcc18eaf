/**
 * One canary leader per fleet (`configSource.etcd`): the instances elect a leader through
 * etcd's election recipe (etcd3's `Election`: the oldest live campaign key under a prefix
 * leads, each key held by its instance's lease), share their cohort counts through etcd, and
 * the leader's decisions are persisted there. The controller side is src/canary/fleet.ts.
 *
 * Keys, under `fleetKey` (default `<key>/fleet`):
 *
 *   election/canary/<lease>   the campaign keys (etcd3's Election); the oldest one leads
 *   instances/<instance>      each instance's counts of the current windows (FleetInstanceReport),
 *                             under its own lease: an instance that dies drops out within leaseTtl
 *   canary/<route>            the canary's state as the leader last decided it (FleetCanaryState);
 *                             no lease: it outlives every leader, so the next one continues from it
 *   actions/<id>, results/<id> an operator action asked on a follower, and the leader's answer
 *
 * - A leader that closes resigns (its campaign key is deleted at once); one that dies or loses
 *   etcd loses its lease within `leaseTtl`, and the next campaign in line leads.
 * - The leader writes a state only while its campaign key exists (one transaction), so a leader
 *   whose lease has expired cannot overwrite its successor's decisions.
 * - Every instance watches the whole prefix with one watch, so it sees the states, reports and
 *   answers in etcd's revision order: a follower has applied a decision before it answers the
 *   action that caused it.
 * - Without a leader (etcd unreachable, an election under way) nothing is decided: the weights
 *   hold, and traffic is served as before.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { Etcd3, isRecoverableError, type Campaign, type Lease, type Namespace, type Watcher } from 'etcd3'
import { circuitBreaker, ConsecutiveBreaker, handleWhen } from 'cockatiel'
import type { EtcdSourceSettings } from '../config/model.js'
import { CanaryConflictError, CanaryNoLeaderError, UnknownCanaryError } from '../canary/errors.js'
import type { CanaryFleetPort, FleetCanaryState, FleetInstanceReport } from '../canary/fleet.js'
import type { CanaryAdminAction } from '../canary/service.js'
import { clientOptions } from './etcd-source.js'

const ELECTION = 'canary'
/** Where etcd3's Election keeps the campaign keys (`election/<name>/<lease>`). */
const ELECTION_KEYS = `election/${ELECTION}/`
const INSTANCES = 'instances/'
const STATES = 'canary/'
const ACTIONS = 'actions/'
const RESULTS = 'results/'
/** After a failure (etcd unreachable, a lost lease), the next attempt. */
const RETRY_MS = 1_000
const ACTIONS_ALLOWED: readonly string[] = ['pause', 'resume', 'promote', 'rollback']

export interface CanaryFleetOptions {
  readonly settings: EtcdSourceSettings
  /** This instance's id (the etcd source's). */
  readonly instance: string
  readonly port: CanaryFleetPort
  readonly log: Logger
  readonly client?: Etcd3
}

export interface CanaryFleet {
  /** Whether this instance leads now. */
  readonly leading: boolean
  /** Resign, drop this instance's keys and stop. */
  close(): Promise<void>
}

interface ActionResult {
  readonly ok: boolean
  readonly code?: string
  readonly message?: string
}

export function startCanaryFleet(o: CanaryFleetOptions): CanaryFleet {
  const { settings, instance, port, log } = o
  const fleetKey = settings.fleetKey ?? `${settings.key}/fleet`
  const prefix = `${fleetKey}/`
  const ttl = Math.max(1, Math.round((settings.leaseTtl ?? 5_000) / 1000))
  // etcd3's default breaker keeps failing every call for 5 s after three failures, longer than a
  // short lease: a leader could not persist its decision once etcd is back before its lease
  // expired. Half-open after 500 ms instead.
  const client =
    o.client ??
    new Etcd3({
      ...clientOptions(settings),
      faultHandling: {
        ...clientOptions(settings).faultHandling,
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 500, breaker: new ConsecutiveBreaker(3) }),
      },
    })
  const ns: Namespace = client.namespace(prefix)
  const election = ns.election(ELECTION, ttl)
  const reports = new Map<string, FleetInstanceReport>()
  const pending = new Map<string, (r: ActionResult) => void>()
  let closed = false
  let leading = false
  let campaign: Campaign | undefined
  let campaignKey: string | undefined
  let checking = false
  let checkAgain = false
  let watcher: Watcher | undefined
  let lease: Lease | undefined
  let reportTimer: NodeJS.Timeout | undefined
  let lastReport = ''
  let leaseRetryAt = 0
  let leaseLossLogged = false
  let reporting = false
  /** Leader: decisions not yet persisted, by route (the latest only). */
  const unsaved = new Map<string, FleetCanaryState | { readonly route: string; readonly removed: true }>()
  let retryTimer: NodeJS.Timeout | undefined
  /** Writes of states and answers, in order (a state before the answer that follows it). */
  let writes: Promise<unknown> = Promise.resolve()

  const enqueue = (what: string, fn: () => Promise<unknown>): void => {
    writes = writes.then(fn).catch((err: Error) => log.warn({ type: 'canary', err: err.message }, `canary fleet: ${what} failed`))
  }

  const stateKey = (route: string): string => `${STATES}${encodeURIComponent(route)}`

  function ownLease(): Lease {
    if (lease !== undefined) return lease
    // After a loss, a new lease is asked for at most once per RETRY_MS (etcd may still be away).
    if (Date.now() < leaseRetryAt) throw new Error('etcd lease lost; asking again shortly')
    const l = ns.lease(ttl)
    l.on('lost', (err) => {
      if (lease === l) lease = undefined
      lastReport = ''
      leaseRetryAt = Date.now() + RETRY_MS
      if (!closed && !leaseLossLogged) log.warn({ type: 'canary', err: err.message }, 'canary fleet: this instance lost its etcd lease; its counts are published again on a new one')
      leaseLossLogged = true
    })
    lease = l
    return l
  }

  port.join(instance, forward)

  function parse<T>(text: string): T | undefined {
    try {
      return JSON.parse(text) as T
    } catch {
      return undefined
    }
  }

  function onPut(key: string, value: string): void {
    if (key.startsWith(ELECTION_KEYS)) void checkLeader()
    else if (key.startsWith(INSTANCES)) {
      const r = parse<FleetInstanceReport>(value)
      if (r === undefined || typeof r.instance !== 'string' || typeof r.routes !== 'object' || r.routes === null) return
      reports.set(key.slice(INSTANCES.length), r)
      port.setReports([...reports.values()])
    } else if (key.startsWith(STATES)) {
      const s = parse<FleetCanaryState>(value)
      if (s !== undefined && typeof s.route === 'string' && typeof s.key === 'string' && typeof s.epoch === 'number') port.applyState(s)
    } else if (key.startsWith(ACTIONS)) {
      if (leading) void runAction(key.slice(ACTIONS.length), value)
    } else if (key.startsWith(RESULTS)) {
      const r = parse<ActionResult>(value)
      const done = pending.get(key.slice(RESULTS.length))
      if (r !== undefined && done !== undefined) done(r)
    }
  }

  function onDelete(key: string): void {
    if (key.startsWith(ELECTION_KEYS)) void checkLeader()
    else if (key.startsWith(INSTANCES) && reports.delete(key.slice(INSTANCES.length))) port.setReports([...reports.values()])
  }

  /** Leader: an operator action asked on a follower. The answer is written after the state it causes. */
  async function runAction(id: string, value: string): Promise<void> {
    const req = parse<{ route?: unknown; action?: unknown; from?: unknown }>(value)
    if (req === undefined || typeof req.route !== 'string' || typeof req.action !== 'string' || !ACTIONS_ALLOWED.includes(req.action)) return
    const { route, action } = req as { route: string; action: CanaryAdminAction }
    let result: ActionResult
    try {
      // The leader runs it at once (the state it causes is queued for etcd before the answer).
      await port.act(route, action)
      result = { ok: true }
      log.info({ type: 'audit', action: `canary.${action}`, route, from: req.from }, `canary ${route}: ${action} asked through instance ${String(req.from)}`)
    } catch (err) {
      const e = err as { code?: string; message: string }
      result = { ok: false, ...(e.code !== undefined ? { code: e.code } : {}), message: e.message }
    }
    enqueue('answering an action', async () => {
      await ownLease().put(`${RESULTS}${id}`).value(JSON.stringify(result))
      await ns.delete().key(`${ACTIONS}${id}`)
    })
  }

  /** Follower: ask the leader to run the action; resolves once this instance has seen its answer. */
  function forward(route: string, action: CanaryAdminAction): Promise<void> {
    const id = randomUUID()
    const wait = settings.dialTimeout + ttl * 1000
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id)
        ns.delete().key(`${ACTIONS}${id}`).catch(() => undefined)
        reject(new CanaryNoLeaderError(`no answer from the fleet's canary leader within ${wait} ms (none elected, or etcd unreachable); nothing was changed`))
      }, wait)
      timer.unref()
      pending.set(id, (r) => {
        clearTimeout(timer)
        pending.delete(id)
        ns.delete().key(`${RESULTS}${id}`).catch(() => undefined)
        if (r.ok) resolve()
        else if (r.code === 'SWITCHYARD_CANARY_UNKNOWN') reject(new UnknownCanaryError(route))
        else if (r.code === 'SWITCHYARD_CANARY_CONFLICT') reject(new CanaryConflictError(r.message ?? 'conflict'))
        else reject(new CanaryNoLeaderError(`the fleet's canary leader could not run it: ${r.message ?? 'unknown error'}`))
      })
      ownLease()
        .put(`${ACTIONS}${id}`)
        .value(JSON.stringify({ route, action, from: instance }))
        .catch((err: Error) => {
          clearTimeout(timer)
          pending.delete(id)
          reject(new CanaryNoLeaderError(`etcd unreachable: the action cannot reach the fleet's canary leader (${err.message}); nothing was changed`))
        })
    })
  }

  /**
   * Leader: persist a decision, only while this instance's campaign key exists (still the
   * leader). A write that fails (etcd unreachable for a moment) is retried with the route's
   * latest state until it lands or this instance stops leading: followers must not stay on an
   * old weight because one write was lost (after a promotion, no later decision would fix it).
   */
  function writeState(s: FleetCanaryState | { readonly route: string; readonly removed: true }): void {
    if (!leading) return
    unsaved.set(s.route, s)
    enqueue('persisting a canary state', () => save(s.route))
  }

  async function save(route: string): Promise<void> {
    const s = unsaved.get(route)
    const key = campaignKey
    if (s === undefined || key === undefined || !leading) return
    const full = `${prefix}${stateKey(route)}`
    const txn = client.if(key, 'Create', '>', 0)
    try {
      const r = await ('removed' in s ? txn.then(client.delete().key(full)) : txn.then(client.put(full).value(JSON.stringify(s)))).commit()
      if (unsaved.get(route) === s) unsaved.delete(route)
      if (!r.succeeded) {
        unsaved.clear()
        log.warn({ type: 'canary', route }, 'canary fleet: a decision was not persisted: this instance no longer leads')
      }
    } catch (err) {
      if (retryTimer === undefined && !closed) {
        log.warn({ type: 'canary', route, err: (err as Error).message }, 'canary fleet: persisting a decision failed (etcd unreachable?); retrying')
        retryTimer = setTimeout(() => {
          retryTimer = undefined
          for (const r of unsaved.keys()) enqueue('persisting a canary state', () => save(r))
        }, RETRY_MS)
        retryTimer.unref()
      }
    }
  }
  port.onState(writeState)

  async function report(): Promise<void> {
    if (closed || reporting) return
    const routes = port.localReport()
    const body = JSON.stringify(routes)
    if (body === lastReport) return
    reporting = true
    try {
      const value: FleetInstanceReport = { instance, at: Date.now(), routes }
      await ownLease().put(`${INSTANCES}${instance}`).value(JSON.stringify(value))
      lastReport = body
      leaseLossLogged = false
    } catch (err) {
      log.debug({ type: 'canary', err: (err as Error).message }, 'canary fleet: report not published')
    } finally {
      reporting = false
    }
  }

  function scheduleReports(): void {
    if (closed) return
    reportTimer = setTimeout(() => {
      void report().finally(scheduleReports)
    }, port.reportPeriod())
    reportTimer.unref()
  }

  async function elected(c: Campaign): Promise<void> {
    if (closed || campaign !== c) return
    try {
      campaignKey = await c.getCampaignKey()
      const states = await ns.getAll().prefix(STATES).strings()
      const persisted = Object.values(states)
        .map((t) => parse<FleetCanaryState>(t))
        .filter((s): s is FleetCanaryState => s !== undefined && typeof s.route === 'string')
      if (closed || campaign !== c) return
      leading = true
      log.info({ type: 'canary', instance, fleetKey }, 'canary fleet: this instance is the leader')
      for (const s of port.lead(persisted)) writeState(s)
      // Actions asked while there was no leader.
      const asked = await ns.getAll().prefix(ACTIONS).strings()
      for (const [k, v] of Object.entries(asked)) if (leading) await runAction(k.slice(ACTIONS.length), v)
    } catch (err) {
      log.warn({ type: 'canary', err: (err as Error).message }, 'canary fleet: taking the lead failed; campaigning again')
      lost(c)
    }
  }

  function lost(c: Campaign): void {
    if (campaign !== c) return
    campaign = undefined
    campaignKey = undefined
    // The next leader decides from the persisted state; what this one could not persist is lost with it.
    unsaved.clear()
    if (leading) {
      leading = false
      port.follow(undefined)
    }
    void checkLeader()
    c.resign().catch(() => undefined)
    if (!closed) setTimeout(runCampaign, RETRY_MS).unref()
  }

  function runCampaign(): void {
    if (closed || campaign !== undefined) return
    const c = election.campaign(instance)
    campaign = c
    c.on('elected', () => void elected(c))
    c.on('error', (err: Error) => {
      log.warn({ type: 'canary', err: err.message }, 'canary fleet: the campaign failed (etcd unreachable or lease lost); no longer leading')
      lost(c)
    })
  }

  /**
   * Who leads: the oldest campaign key, read again after every change of the election's keys
   * (they arrive on the one watch, in order). etcd3's ElectionObserver is not used: when several
   * campaign keys are created before its watch starts, it takes the newest for the leader.
   * A leader does not step down on what it reads here, only when its campaign fails (its lease
   * is lost): a read made just before it was elected must not depose it, and its state writes
   * hold only while its campaign key exists anyway.
   */
  async function checkLeader(): Promise<void> {
    if (checking) {
      checkAgain = true
      return
    }
    checking = true
    try {
      do {
        checkAgain = false
        const leader = await election.leader()
        if (closed) return
        if (!leading && leader !== instance) port.follow(leader)
      } while (checkAgain)
    } catch (err) {
      log.debug({ type: 'canary', err: (err as Error).message }, 'canary fleet: reading the leader failed; reading again')
      if (!closed) setTimeout(() => void checkLeader(), RETRY_MS).unref()
    } finally {
      checking = false
    }
  }

  async function start(): Promise<void> {
    try {
      // What the fleet already holds (reports, states), then every change after it, in order.
      const all = await ns.getAll().exec()
      for (const kv of all.kvs) {
        const key = kv.key.toString('utf8')
        if (!key.startsWith(ACTIONS) && !key.startsWith(ELECTION_KEYS)) onPut(key, kv.value.toString('utf8'))
      }
      if (closed) return
      const w = await ns.watch().prefix('').startRevision(String(Number(all.header.revision) + 1)).create()
      if (closed) {
        await w.cancel()
        return
      }
      watcher = w
      w.on('put', (kv) => onPut(kv.key.toString('utf8'), kv.value.toString('utf8')))
      w.on('delete', (kv) => onDelete(kv.key.toString('utf8')))
      // The watch reconnects by itself (from the last revision it saw); errors are logged, not thrown.
      w.on('error', (err: Error) => log.debug({ type: 'canary', err: err.message }, 'canary fleet: watch error'))
    } catch (err) {
      log.warn({ type: 'canary', err: (err as Error).message }, 'canary fleet: etcd unreachable; no canary decisions until it is back')
      if (!closed) setTimeout(() => void start(), RETRY_MS).unref()
      return
    }
    scheduleReports()
    void report()
    await checkLeader()
    runCampaign()
  }
  void start()

  return {
    get leading() {
      return leading
    },
    async close() {
      if (closed) return
      closed = true
      if (reportTimer !== undefined) clearTimeout(reportTimer)
      if (retryTimer !== undefined) clearTimeout(retryTimer)
      port.leave()
      leading = false
      await writes
      await Promise.allSettled([campaign?.resign(), watcher?.cancel(), lease?.revoke()])
      if (o.client === undefined) client.close()
    },
  }
}
