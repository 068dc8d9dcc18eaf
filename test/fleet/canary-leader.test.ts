/**
 * Canaries in a fleet (`configSource.etcd`): gateway instances sharing one real etcd elect one
 * canary leader; every instance's cohort counts are added once to the fleet's window; only the
 * leader decides, from the fleet's numbers; its decisions are persisted in etcd, so closing it
 * hands the rollout to another instance, which continues from the same step with the same
 * history. A follower never moves the weights by itself.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { randomUUID } from 'node:crypto'
import { Etcd3 } from 'etcd3'
import { request } from 'undici'
import { loadConfigFile } from '../../src/config/load.js'
import { EtcdSource } from '../../src/config-source/etcd-source.js'
import { prepareEtcdStart, type EtcdStart } from '../../src/config-source/etcd-sync.js'
import { createGateway, type Gateway } from '../../src/gateway.js'
import { captureLogger } from '../helpers/gateway.js'
import { etcdAvailable, startEtcd, type TestEtcd } from '../helpers/etcd.js'
import { freePort, startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

const run = etcdAvailable()
const root = resolve(import.meta.dirname, '../..')

let etcd: TestEtcd
let ups: TestUpstream[] = []
let dir: string
const open: Instance[] = []
const children: ChildProcess[] = []

interface Instance {
  readonly gateway: Gateway
  readonly sync: EtcdStart
  readonly logs: Record<string, unknown>[]
  readonly name: string
  closed: boolean
}

interface FleetView {
  instance: string | null
  role: 'leader' | 'follower'
  leader: string | null
  instances: string[]
}

interface View {
  state: string
  step: number
  weight: number
  baseline: { requests: number }
  candidate: { requests: number }
  history: { step: number; result: string; candidate: { requests: number } }[]
  fleet: FleetView
  lastDecision?: { action: string }
}

function shared(canary: Record<string, unknown>): string {
  return JSON.stringify({
    pools: { v1: { backends: [ups[0]!.url] }, v2: { backends: [ups[1]!.url] } },
    routes: [
      {
        name: 'users',
        match: { path: '/' },
        split: [
          { pool: 'v1', weight: 100 },
          { pool: 'v2', weight: 0 },
        ],
        canary: { baseline: 'v1', candidate: 'v2', gates: { minRequests: 10, maxErrorRate: 0.5, maxP99Ratio: 100 }, ...canary },
      },
    ],
  })
}

/** A fresh fleet for each test: its own configuration key (and so its own fleet prefix). */
async function pushFleet(canary: Record<string, unknown>): Promise<string> {
  const key = `/sy-${randomUUID()}/config`
  const src = new EtcdSource({ endpoints: [etcd.url], key, runtimeKey: `${key}/runtime`, dialTimeout: 2000 })
  await src.writeConfig(shared(canary))
  await src.close()
  return key
}

/** One instance as `switchyard start` runs it: the local file, the composed configuration, the etcd sync. */
async function startInstance(key: string, name: string, leaseTtl = '2s'): Promise<Instance> {
  const local = join(dir, `${name}-${randomUUID()}.yaml`)
  writeFileSync(
    local,
    `server: { host: 127.0.0.1, port: 0 }\n` +
      `admin: { host: 127.0.0.1, port: 0 }\n` +
      `log: { level: info, access: false }\n` +
      `configSource: { etcd: { endpoints: ["${etcd.url}"], key: ${key}, dialTimeout: 1s, leaseTtl: ${leaseTtl} } }\n`,
  )
  const sync = await prepareEtcdStart(local, await loadConfigFile(local))
  const { logger, lines } = captureLogger()
  const gateway = await createGateway(sync.settings, { logger, processMetrics: false, loadConfig: sync.loadConfig })
  await gateway.listen()
  await sync.attach(gateway, logger)
  const inst = { gateway, sync, logs: lines, name, closed: false }
  open.push(inst)
  return inst
}

async function stop(i: Instance): Promise<void> {
  if (i.closed) return
  i.closed = true
  await i.gateway.close()
  await i.sync.close()
}

async function view(i: Instance): Promise<View> {
  const res = await request(`${i.gateway.adminUrl}/api/canaries`)
  const body = (await res.body.json()) as View[]
  return body[0]!
}

async function split(i: Instance): Promise<Record<string, number>> {
  const routes = (await (await request(`${i.gateway.adminUrl}/api/routes`)).body.json()) as { split: { pool: string; weight: number }[] }[]
  return Object.fromEntries(routes[0]!.split.map((t) => [t.pool, t.weight]))
}

async function events(i: Instance, type: string): Promise<Record<string, unknown>[]> {
  const all = (await (await request(`${i.gateway.adminUrl}/api/events`)).body.json()) as { type: string; detail: Record<string, unknown> }[]
  return all
    .filter((e) => e.type === type)
    .map((e) => e.detail)
    .reverse()
}

async function send(i: Instance, n: number): Promise<void> {
  for (let k = 0; k < n; k++) {
    const res = await request(`${i.gateway.url}/api/users/${k}`)
    await res.body.text()
    expect(res.statusCode).toBe(200)
  }
}

/** Requests spread over the instances (a few at a time) until `done` holds. */
async function drive(instances: Instance[], done: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let k = 0
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`traffic timed out after ${timeoutMs} ms`)
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const i = instances[k++ % instances.length]!
        const res = await request(`${i.gateway.url}/api/users/${k}`)
        await res.body.text()
      }),
    )
  }
}

/** Both instances agree on one leader; returns [leader, follower]. */
async function leaderOf(a: Instance, b: Instance): Promise<[Instance, Instance]> {
  const views = await waitFor(
    async () => {
      const [va, vb] = [await view(a), await view(b)]
      // Both know the leader and the other instance, and run the leader's state.
      const ok =
        va.fleet.leader !== null &&
        va.fleet.leader === vb.fleet.leader &&
        va.fleet.instances.length === 2 &&
        vb.fleet.instances.length === 2 &&
        va.lastDecision !== undefined &&
        vb.lastDecision !== undefined
      return ok ? [va, vb] : undefined
    },
    8_000,
    25,
    'one leader both instances agree on',
  )
  const roles = views!.map((v) => v.fleet.role).sort()
  expect(roles).toEqual(['follower', 'leader'])
  return views![0].fleet.role === 'leader' ? [a, b] : [b, a]
}

describe.runIf(run)('canaries decided by one leader for an etcd fleet', { timeout: 45_000 }, () => {
  beforeAll(async () => {
    etcd = await startEtcd()
    ups = [await startUpstream('v1'), await startUpstream('v2')]
    dir = mkdtempSync(join(tmpdir(), 'sy-canary-fleet-'))
  })
  afterEach(async () => {
    for (const i of open.splice(0)) await stop(i)
    for (const c of children.splice(0)) {
      if (c.exitCode !== null || c.signalCode !== null) continue
      await new Promise<void>((r) => {
        c.once('exit', () => r())
        c.kill('SIGKILL')
      })
    }
  })
  afterAll(async () => {
    await Promise.all(ups.map((u) => u.close()))
    await etcd?.stop()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('elects exactly one leader and counts every instance’s requests once in the fleet’s window, shown by both', async () => {
    const key = await pushFleet({ steps: [50, 100], interval: '1h' })
    const a = await startInstance(key, 'a')
    const b = await startInstance(key, 'b')
    const [leader, follower] = await leaderOf(a, b)
    const leaderId = (await view(leader)).fleet.instance

    await send(follower, 30)
    await send(leader, 20)
    for (const i of [leader, follower]) {
      await waitFor(
        async () => {
          const v = await view(i)
          return v.baseline.requests + v.candidate.requests === 50
        },
        5_000,
        25,
        `${i.name}: the fleet's 50 requests`,
      )
    }
    // And stays there: a report is replaced, never added twice.
    await new Promise((r) => setTimeout(r, 300))
    for (const i of [leader, follower]) {
      const v = await view(i)
      expect(v.baseline.requests + v.candidate.requests).toBe(50)
    }
    expect(await events(leader, 'canary.leader')).toContainEqual(expect.objectContaining({ leader: leaderId, role: 'leader' }))
    expect(await events(follower, 'canary.leader')).toContainEqual(expect.objectContaining({ leader: leaderId, role: 'follower' }))
  })

  it('a follower never moves the weights by itself; the leader decides from the follower’s traffic alone', async () => {
    const key = await pushFleet({ steps: [20, 100], interval: '200ms' })
    // Another process holds the leadership and decides nothing.
    const client = new Etcd3({ hosts: etcd.url })
    const phantom = client.namespace(`${key}/fleet/`).election('canary', 2).campaign('phantom')
    await phantom.wait()
    const a = await startInstance(key, 'a')
    await waitFor(async () => (await view(a)).fleet.leader === 'phantom', 5_000, 25, 'a following the phantom leader')

    // Far more than the gates need, over several intervals: still step 1, weight 20.
    const until = Date.now() + 800
    await drive([a], async () => Date.now() > until)
    const waiting = await view(a)
    expect(waiting).toMatchObject({ state: 'progressing', step: 1, weight: 20, fleet: { role: 'follower', leader: 'phantom' } })
    expect(waiting.candidate.requests).toBeGreaterThan(10)
    expect(await split(a)).toEqual({ v1: 80, v2: 20 })
    expect((await events(a, 'canary')).map((e) => e['action'])).toEqual([])

    await phantom.resign()
    await waitFor(async () => (await view(a)).fleet.role === 'leader', 5_000, 25, 'a taking the lead')
    await drive([a], async () => (await view(a)).state === 'promoted')
    expect(await split(a)).toEqual({ v1: 0, v2: 100 })
    expect((await events(a, 'canary')).map((e) => e['action'])).toEqual(['started', 'step', 'promoted'])
    client.close()
  })

  it('steers from a follower: the leader runs the action and both apply it; a conflict answers at once; no leader is a 503', async () => {
    const key = await pushFleet({ steps: [20, 100], interval: '1h' })
    const a = await startInstance(key, 'a')
    const b = await startInstance(key, 'b')
    const [leader, follower] = await leaderOf(a, b)
    const post = async (i: Instance, action: string) => {
      const res = await request(`${i.gateway.adminUrl}/api/canaries/users/${action}`, { method: 'POST' })
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
    }

    const paused = await post(follower, 'pause')
    expect(paused).toMatchObject({ status: 200, body: { state: 'paused' } })
    expect((await view(leader)).state).toBe('paused')
    expect((await events(leader, 'canary')).at(-1)).toMatchObject({ action: 'paused', by: 'operator' })

    expect(await post(follower, 'pause')).toMatchObject({ status: 409, body: { code: 'SWITCHYARD_CANARY_CONFLICT' } })
    expect(await post(follower, 'resume')).toMatchObject({ status: 200, body: { state: 'progressing' } })
    expect(await post(follower, 'rollback')).toMatchObject({ status: 200, body: { state: 'rolled-back', weight: 0 } })
    await waitFor(async () => (await split(leader)).v2 === 0, 3_000, 25, 'the leader at weight 0')
    expect(await split(follower)).toEqual({ v1: 100, v2: 0 })

    // A leader that never answers (a phantom holding the election): 503, nothing changed.
    await stop(leader)
    const client = new Etcd3({ hosts: etcd.url })
    const phantom = client.namespace(`${key}/fleet/`).election('canary', 2).campaign('phantom')
    const phantomElected = phantom.wait()
    await waitFor(async () => (await view(follower)).fleet.role === 'leader', 5_000, 25, 'the follower leading')
    await stop(follower)
    const c = await startInstance(key, 'c')
    await phantomElected
    await waitFor(async () => (await view(c)).fleet.leader === 'phantom', 5_000, 25, 'c following the phantom')
    expect(await post(c, 'promote')).toMatchObject({ status: 503, body: { code: 'SWITCHYARD_CANARY_NO_LEADER' } })
    expect((await view(c)).state).toBe('rolled-back')
    await phantom.resign()
    client.close()
  })

  it('promotes over traffic split across both instances; closing the leader hands the rollout, its state and history, to the other', async () => {
    const key = await pushFleet({ steps: [20, 50, 100], interval: '300ms' })
    const a = await startInstance(key, 'a')
    const b = await startInstance(key, 'b')
    const [leader, follower] = await leaderOf(a, b)
    const leaderId = (await view(leader)).fleet.instance!
    const followerId = (await view(follower)).fleet.instance!

    await drive([a, b], async () => (await view(leader)).step >= 2 && (await view(follower)).step >= 2)
    const before = await view(follower)
    expect(before.weight).toBe(50)
    expect(before.history[0]).toMatchObject({ step: 1, result: 'passed' })
    expect(await split(follower)).toEqual({ v1: 50, v2: 50 })
    // The follower shows the leader's decisions, marked as such; it made none itself.
    const seen = await events(follower, 'canary')
    expect(seen.length).toBeGreaterThan(0)
    for (const e of seen) expect(e['leader']).toBe(leaderId)

    await stop(leader)
    await waitFor(async () => (await view(follower)).fleet.role === 'leader', 5_000, 25, 'the follower taking the lead')
    const taken = await view(follower)
    expect(taken.step).toBe(2)
    expect(taken.history[0]).toMatchObject({ step: 1, result: 'passed' })
    expect(await events(follower, 'canary.leader')).toContainEqual(expect.objectContaining({ leader: followerId, previous: leaderId, role: 'leader' }))

    await drive([follower], async () => (await view(follower)).state === 'promoted')
    const done = await view(follower)
    expect(done.history.map((h) => [h.step, h.result])).toEqual([
      [1, 'passed'],
      [2, 'passed'],
      [3, 'passed'],
    ])
    expect(await split(follower)).toEqual({ v1: 0, v2: 100 })

    // What etcd keeps: the last decision, by the new leader. It is written after the decision
    // applies locally, so wait for the write rather than read once.
    const client = new Etcd3({ hosts: etcd.url })
    const read = async (): Promise<{ by: string; state: string; history: unknown[] }> => JSON.parse((await client.get(`${key}/fleet/canary/users`).string())!)
    let stored = await read()
    try {
      await waitFor(async () => (stored = await read()).state === 'promoted', 5_000, 25, 'the promotion persisted in etcd')
    } finally {
      client.close()
    }
    expect(stored).toMatchObject({ by: followerId, state: 'promoted' })
    expect(stored.history).toHaveLength(3)
  })

  it('a changed block pushed to etcd is restarted once, by the leader, and both instances run it', async () => {
    const key = await pushFleet({ steps: [20, 100], interval: '1h' })
    const a = await startInstance(key, 'a')
    const b = await startInstance(key, 'b')
    const [leader, follower] = await leaderOf(a, b)
    const src = new EtcdSource({ endpoints: [etcd.url], key, runtimeKey: `${key}/runtime`, dialTimeout: 2000 })
    await src.writeConfig(shared({ steps: [30, 100], interval: '1h' }))
    await src.close()
    for (const i of [leader, follower]) {
      await waitFor(async () => (await split(i)).v2 === 30 && (await events(i, 'canary')).some((e) => e['action'] === 'restarted'), 5_000, 25, `${i.name} on the new block`)
      expect(await view(i)).toMatchObject({ state: 'progressing', step: 1, weight: 30 })
    }
    const restarts = (await events(leader, 'canary')).filter((e) => e['action'] === 'restarted')
    expect(restarts).toHaveLength(1)
    // The follower shows the leader's restart (it restarted nothing itself).
    const leaderId = (await view(leader)).fleet.instance
    expect((await events(follower, 'canary')).filter((e) => e['action'] === 'restarted')).toEqual([expect.objectContaining({ leader: leaderId, reason: expect.stringContaining('changed') })])
  })

  it('a decision made while etcd is briefly away is persisted when it is back, and the follower applies it', async () => {
    const key = await pushFleet({ steps: [20, 100], interval: '200ms' })
    // Leases long enough to outlast the outage: the leader stays the leader.
    const a = await startInstance(key, 'a', '5s')
    const b = await startInstance(key, 'b', '5s')
    const [leader, follower] = await leaderOf(a, b)
    await etcd.kill()
    const killedAt = Date.now()
    await drive([leader], async () => (await view(leader)).state === 'promoted')
    const decidedIn = Date.now() - killedAt
    await etcd.start()
    await waitFor(async () => (await view(follower)).state === 'promoted', 8_000, 50, 'the follower applying the decision made during the outage')
    expect(await split(follower)).toEqual({ v1: 0, v2: 100 })
    expect(decidedIn).toBeLessThan(2_000)
  })

  it('replaces a leader that dies (SIGKILL) within the lease TTL; an instance with worker threads counts its whole process', async () => {
    expect(existsSync(join(root, 'dist/src/cli.js')), 'dist/ missing: npm test builds it (pretest)').toBe(true)
    const key = await pushFleet({ steps: [20, 50, 100], interval: '300ms' })
    interface Proc {
      readonly url: string
      readonly admin: string
      readonly child: ChildProcess
    }
    const startProcess = async (name: string, workers: number): Promise<Proc> => {
      const [port, adminPort] = [await freePort(), await freePort()]
      const local = join(dir, `${name}-${randomUUID()}.yaml`)
      writeFileSync(
        local,
        `server: { host: 127.0.0.1, port: ${port}, workers: ${workers} }\n` +
          `admin: { host: 127.0.0.1, port: ${adminPort} }\n` +
          `log: { level: warn, access: false }\n` +
          `configSource: { etcd: { endpoints: ["${etcd.url}"], key: ${key}, dialTimeout: 1s, leaseTtl: 2s } }\n`,
      )
      const child = spawn(process.execPath, [join(root, 'bin/switchyard.js'), 'start', '-c', local], { stdio: ['ignore', 'pipe', 'pipe'] })
      children.push(child)
      let out = ''
      child.stdout!.on('data', (d) => (out += d))
      child.stderr!.on('data', (d) => (out += d))
      const p = { url: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${adminPort}`, child }
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`${name} exited: ${out}`)
          try {
            return (await request(`${p.admin}/api/canaries`)).statusCode === 200
          } catch {
            return false
          }
        },
        15_000,
        50,
        `${name} up`,
      )
      return p
    }
    const fleetOf = async (p: Proc): Promise<View> => ((await (await request(`${p.admin}/api/canaries`)).body.json()) as View[])[0]!
    const a = await startProcess('a', 2)
    const b = await startProcess('b', 1)
    const agreed = await waitFor(
      async () => {
        const [va, vb] = [await fleetOf(a), await fleetOf(b)]
        return va.fleet.leader !== null && va.fleet.leader === vb.fleet.leader ? [va, vb] : undefined
      },
      8_000,
      25,
      'one leader',
    )
    const [leader, follower] = agreed![0].fleet.role === 'leader' ? [a, b] : [b, a]
    const leaderId = agreed![0].fleet.leader!

    // Exactly the requests sent, over both processes (one of them with two worker threads).
    for (let k = 0; k < 40; k++) {
      const res = await request(`${(k % 2 === 0 ? a : b).url}/api/users/${k}`)
      await res.body.text()
    }
    const before = await fleetOf(follower)
    if (before.step === 1) {
      await waitFor(
        async () => {
          const v = await fleetOf(follower)
          return v.step > 1 || v.baseline.requests + v.candidate.requests === 40
        },
        5_000,
        25,
        'the fleet counting 40 requests',
      )
    }

    const killedAt = Date.now()
    leader.child.kill('SIGKILL')
    const taken = await waitFor(async () => {
      const v = await fleetOf(follower)
      return v.fleet.role === 'leader' ? v : undefined
    }, 8_000, 25, 'the survivor taking the lead')
    // Within the lease TTL (2 s), give or take etcd's lease check and the watch round trip.
    expect(Date.now() - killedAt).toBeLessThan(5_000)
    expect(taken!.fleet.leader).not.toBe(leaderId)

    const deadline = Date.now() + 15_000
    let k = 0
    while ((await fleetOf(follower)).state !== 'promoted') {
      if (Date.now() > deadline) throw new Error('not promoted')
      await Promise.all(Array.from({ length: 8 }, async () => (await request(`${follower.url}/api/users/${k++}`)).body.text()))
    }
    const done = await fleetOf(follower)
    expect(done.history.map((h) => h.result)).toEqual(['passed', 'passed', 'passed'])
  })
})
