/**
 * A canary with `server.workers: 2`: the worker threads serve the traffic and report their
 * cohorts' outcomes in batches; the main thread (which serves none) decides from them, and its
 * weights reach both workers. Requests go on fresh connections so the kernel spreads them over
 * both workers.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { request } from 'undici'
import { createSupervisor, type Supervisor } from '../../src/workers/supervisor.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { canaryConfig } from '../canary/helpers.js'

const root = resolve(import.meta.dirname, '../..')
let sup: Supervisor | undefined
const ups: TestUpstream[] = []
afterEach(async () => {
  await sup?.close()
  sup = undefined
  await Promise.all(ups.splice(0).map((u) => u.close()))
})

async function start(document: Record<string, unknown>): Promise<Supervisor> {
  expect(existsSync(resolve(root, 'dist/src/workers/worker-main.js')), 'dist/ missing: npm test builds it (pretest)').toBe(true)
  sup = await createSupervisor({ document: { ...document, server: { host: '127.0.0.1', port: 0, workers: 2 } }, count: 2, restartDelayMs: 20 })
  await sup.listen()
  return sup
}

async function json(url: string, method: 'GET' | 'POST' = 'GET'): Promise<unknown> {
  const res = await request(url, { method })
  return res.body.json()
}

async function canary(s: Supervisor): Promise<Record<string, unknown>> {
  return ((await json(`${s.gateway.adminUrl}/api/canaries`)) as Record<string, unknown>[])[0]!
}

/** Requests on fresh connections (`connection: close`), 8 at a time, until the canary reaches `state`. */
async function driveUntil(s: Supervisor, state: string, timeoutMs = 12_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let now = ''
  let n = 0
  const send = async (): Promise<void> => {
    while (now !== state && Date.now() < deadline) {
      const res = await request(`${s.url}/api/users/${n++}`, { headers: { connection: 'close' } })
      await res.body.text()
    }
  }
  const watch = async (): Promise<void> => {
    while (now !== state && Date.now() < deadline) {
      now = (await canary(s))['state'] as string
      await new Promise((r) => setTimeout(r, 25))
    }
  }
  await Promise.all([watch(), ...Array.from({ length: 8 }, send)])
  expect(now, `canary still ${now} after ${timeoutMs} ms`).toBe(state)
}

/** How many of `count` fresh-connection requests each upstream got. */
async function spread(s: Supervisor, count: number, a: TestUpstream, b: TestUpstream): Promise<[number, number]> {
  const [a0, b0] = [a.requests.length, b.requests.length]
  for (let i = 0; i < count; i++) await (await request(`${s.url}/x${i}`, { headers: { connection: 'close' } })).body.text()
  return [a.requests.length - a0, b.requests.length - b0]
}

async function perWorker(s: Supervisor): Promise<number[]> {
  return ((await json(`${s.gateway.adminUrl}/api/workers`)) as { requests: number }[]).map((w) => w.requests)
}

describe('canary with server.workers: 2 (the main thread decides)', { timeout: 30_000 }, () => {
  it('promotes a healthy candidate through every step from both workers, and the weights reach both', async () => {
    const v1 = await startUpstream('v1')
    const v2 = await startUpstream('v2')
    ups.push(v1, v2)
    const s = await start(canaryConfig(v1.url, v2.url, { steps: [20, 50, 100], interval: '300ms', gates: { minRequests: 10, maxErrorRate: 0.02, maxP99Ratio: 50 } }))
    expect(await canary(s)).toMatchObject({ state: 'progressing', step: 1, weight: 20 })
    await driveUntil(s, 'promoted')
    const view = await canary(s)
    expect(view).toMatchObject({ route: 'users', state: 'promoted', weight: 100, baseline: { pool: 'v1', weight: 0 }, candidate: { pool: 'v2', weight: 100 } })
    const history = view['history'] as { weight: number; result: string; candidate: { requests: number } }[]
    expect(history.map((h) => `${h.weight}:${h.result}`)).toEqual(['20:passed', '50:passed', '100:passed'])
    // The main thread served nothing itself: every counted request came from a worker's batch.
    for (const h of history) expect(h.candidate.requests).toBeGreaterThanOrEqual(10)
    const workers = await perWorker(s)
    expect(workers.length).toBe(2)
    expect(Math.min(...workers)).toBeGreaterThan(0)
    // Both workers run at the main thread's weight: nothing reaches the baseline now.
    await new Promise((r) => setTimeout(r, 50))
    expect(await spread(s, 20, v1, v2)).toEqual([0, 20])
    // One series for the process, not one per worker summed.
    const metrics = await (await request(`${s.gateway.adminUrl}/metrics`)).body.text()
    expect(metrics).toContain('switchyard_canary_weight{route="users",pool="v2"} 100')
    expect(metrics).toContain('switchyard_canary_state{route="users"} 2')
    // A replacement worker starts at the main thread's weight, not at the file's first step.
    const dying = s.threads[0]!
    await dying.terminate()
    // Until the replacement has served some: every request on either worker reaches the candidate.
    await waitFor(async () => {
      expect(await spread(s, 10, v1, v2)).toEqual([0, 10])
      const views = (await json(`${s.gateway.adminUrl}/api/workers`)) as { restarts: number; requests: number }[]
      return views[0]!.restarts === 1 && views[0]!.requests > 0
    }, 10_000, 10, 'traffic on the replacement worker')
    // An operator's rollback on the main thread's admin reaches both workers.
    expect(await json(`${s.gateway.adminUrl}/api/canaries/users/rollback`, 'POST')).toMatchObject({ state: 'rolled-back', weight: 0 })
    await new Promise((r) => setTimeout(r, 50))
    expect(await spread(s, 20, v1, v2)).toEqual([20, 0])
  })

  it('rolls back an erroring candidate at the first step from both workers\' outcomes', async () => {
    const v1 = await startUpstream('v1')
    let n = 0
    const v2 = await startUpstream('v2', (_req, res) => {
      res.writeHead(++n % 4 === 0 ? 500 : 200, { 'content-type': 'text/plain' })
      res.end('v2')
    })
    ups.push(v1, v2)
    const s = await start(canaryConfig(v1.url, v2.url, { steps: [30, 60, 100], interval: '300ms', gates: { minRequests: 20, maxErrorRate: 0.02, maxP99Ratio: 50 } }))
    await driveUntil(s, 'rolled-back')
    const view = await canary(s)
    expect(view).toMatchObject({ state: 'rolled-back', step: 1, weight: 0, lastDecision: { action: 'rolled-back', by: 'analysis', gate: 'maxErrorRate' } })
    const figures = (view['lastDecision'] as { figures: { weight: number; candidate: { requests: number; errors: number; errorRate: number }; baseline: { errors: number } } }).figures
    expect(figures.weight).toBe(30)
    expect(figures.candidate.requests).toBeGreaterThanOrEqual(20)
    expect(figures.candidate.errorRate).toBeGreaterThan(0.02)
    expect(figures.baseline.errors).toBe(0)
    expect(Math.min(...(await perWorker(s)))).toBeGreaterThan(0)
    const events = ((await json(`${s.gateway.adminUrl}/api/events`)) as { type: string; detail: Record<string, unknown> }[]).filter((e) => e.type === 'canary')
    expect(events.map((e) => e.detail['action'])).toContain('rolled-back')
    await new Promise((r) => setTimeout(r, 50))
    expect(await spread(s, 20, v1, v2)).toEqual([20, 0])
  })

  it('rolls back on the shadow divergence the workers compared (mirror.compare)', async () => {
    const answer = (plan: string) => (_req: unknown, res: import('node:http').ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ plan }))
    }
    const v1 = await startUpstream('v1', answer('free'))
    const v2 = await startUpstream('v2', answer('premium'))
    ups.push(v1, v2)
    const s = await start(
      canaryConfig(
        v1.url,
        v2.url,
        { steps: [20, 100], interval: '300ms', gates: { minRequests: 10, maxErrorRate: 0.5, maxP99Ratio: 50, maxDivergence: 0.05 } },
        { mirror: { pool: 'v2', compare: true } },
      ),
    )
    await driveUntil(s, 'rolled-back')
    const view = await canary(s)
    expect(view).toMatchObject({ state: 'rolled-back', step: 1, lastDecision: { gate: 'maxDivergence', figures: { divergence: { rate: 1 } } } })
    // The main thread serves nothing: the comparisons came in the workers' batches.
    expect((view['lastDecision'] as { figures: { divergence: { compared: number } } }).figures.divergence.compared).toBeGreaterThanOrEqual(10)
  })
})
