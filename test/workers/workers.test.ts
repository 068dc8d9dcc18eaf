/**
 * `server.workers: 2`, with the semantics of one gateway: worker threads share the port
 * (SO_REUSEPORT) and the state that is one per process — rate-limit budgets, health verdicts
 * (one checker), circuit verdicts — while `/metrics` and `/api/workers` are one view of the
 * process, a reload reaches every worker, and a dead worker is replaced.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { Agent, request } from 'undici'
import { createSupervisor, type Supervisor } from '../../src/workers/supervisor.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

const root = resolve(import.meta.dirname, '../..')
let sup: Supervisor | undefined
let ups: TestUpstream[] = []
const agents: Agent[] = []
afterEach(async () => {
  await sup?.close()
  sup = undefined
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  await Promise.all(agents.splice(0).map((a) => a.close()))
})

/** A request on a connection of its own, so requests spread over the workers. */
async function fresh(url: string, headers: Record<string, string> = {}): Promise<{ status: number; upstream: string | undefined }> {
  const res = await request(url, { headers: { connection: 'close', ...headers } })
  await res.body.text()
  return { status: res.statusCode, upstream: res.headers['x-upstream'] as string | undefined }
}

function base(backends: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    pools: { main: { backends } },
    routes: [{ name: 'all', match: { path: '/' }, pool: 'main' }],
    ...extra,
  }
}

async function start(document: Record<string, unknown>): Promise<Supervisor> {
  expect(existsSync(resolve(root, 'dist/src/workers/worker-main.js')), 'dist/ missing: npm test builds it (pretest)').toBe(true)
  sup = await createSupervisor({ document, count: 2, restartDelayMs: 20 })
  await sup.listen()
  return sup
}

async function workerRequests(s: Supervisor): Promise<number[]> {
  const res = await request(`${s.gateway.adminUrl}/api/workers`)
  return ((await res.body.json()) as { requests: number }[]).map((w) => w.requests)
}

describe('server.workers: 2', { timeout: 45_000 }, () => {
  it('spreads connections over both workers and counts them once in /metrics and /api/workers', async () => {
    ups = [await startUpstream('a')]
    const s = await start(base([ups[0]!.url]))
    // The dashboard's stats read the process's series too (the first call is the window's base).
    await (await request(`${s.gateway.adminUrl}/api/stats`)).body.text()
    for (let i = 0; i < 40; i++) expect((await fresh(`${s.url}/x`)).status).toBe(200)
    const stats = (await (await request(`${s.gateway.adminUrl}/api/stats`)).body.json()) as { totals: { requestRate: number | null } }
    expect(stats.totals.requestRate).toBeGreaterThan(0)
    const per = await workerRequests(s)
    expect(per.length).toBe(2)
    expect(per[0]! + per[1]!).toBe(40)
    expect(Math.min(...per)).toBeGreaterThan(0)
    const metrics = await (await request(`${s.gateway.adminUrl}/metrics`)).body.text()
    expect(metrics).toMatch(/switchyard_requests_total\{[^}]*route="all"[^}]*\} 40\n/)
    const views = (await (await request(`${s.gateway.adminUrl}/api/workers`)).body.json()) as Record<string, unknown>[]
    expect(views[0]).toMatchObject({ id: 0, restarts: 0 })
    expect(Object.keys(views[0]!).sort()).toEqual(['eventLoopLagMs', 'heapUsedBytes', 'id', 'requests', 'restarts', 'threadId'])
  })

  it('spends one rate-limit budget across both workers: exactly max allowed', async () => {
    ups = [await startUpstream('a')]
    const s = await start(base([ups[0]!.url], { routes: [{ name: 'all', match: { path: '/' }, pool: 'main', rateLimit: { max: 10, window: '1m', key: 'route' } }] }))
    const statuses: number[] = []
    for (let i = 0; i < 30; i++) statuses.push((await fresh(`${s.url}/x`)).status)
    expect(statuses.filter((x) => x === 200).length).toBe(10)
    expect(statuses.filter((x) => x === 429).length).toBe(20)
    expect(Math.min(...(await workerRequests(s)))).toBeGreaterThan(0)
  })

  it('probes each backend from one health checker for the process, and every worker follows its verdict', async () => {
    let probes = 0
    let healthy = true
    ups = [
      await startUpstream('a'),
      await startUpstream('b', (req, res) => {
        if (req.url === '/health') {
          probes++
          res.writeHead(healthy ? 200 : 503).end()
          return
        }
        res.writeHead(200, { 'x-upstream': 'b' }).end('b')
      }),
    ]
    const s = await start(base([ups[0]!.url, ups[1]!.url], { pools: { main: { backends: [ups[0]!.url, ups[1]!.url], healthCheck: { path: '/health', interval: '100ms', unhealthyThreshold: 1, healthyThreshold: 1 } } } }))
    // One checker at 100 ms needs at least 9 intervals for 10 probes; a checker per worker would
    // get there in half the time. (A loaded machine can only make it slower, never faster.)
    const before = probes
    const started = performance.now()
    await waitFor(() => probes - before >= 10, 10_000, 5, 'ten probes')
    expect(performance.now() - started).toBeGreaterThanOrEqual(800)
    healthy = false
    await waitFor(async () => (await request(`${s.gateway.adminUrl}/api/pools`).then((r) => r.body.json()) as { backends: { url: string; healthy: boolean }[] }[])[0]!.backends[1]!.healthy === false, 3000, 20, 'the verdict')
    // Every worker now skips b.
    for (let i = 0; i < 20; i++) expect((await fresh(`${s.url}/x`)).upstream).toBe('a')
  })

  it('opens a circuit for the process: failures seen by one worker stop traffic to the backend from the other', async () => {
    let hitsB = 0
    ups = [
      await startUpstream('a'),
      await startUpstream('b', (_req, res) => {
        hitsB++
        res.writeHead(500, { 'x-upstream': 'b' }).end('broken')
      }),
    ]
    const s = await start(
      base([ups[0]!.url, ups[1]!.url], {
        pools: { main: { backends: [ups[0]!.url, ups[1]!.url], circuitBreaker: { consecutiveFailures: 3, openDuration: '1m' }, retry: { attempts: 0 } } },
      }),
    )
    // One keep-alive connection: one worker sees every failure.
    const one = new Agent({ connections: 1, pipelining: 1 })
    agents.push(one)
    for (let i = 0; hitsB < 3 && i < 20; i++) await (await request(`${s.url}/x`, { dispatcher: one })).body.text()
    expect(hitsB).toBe(3)
    await waitFor(async () => (await request(`${s.gateway.adminUrl}/api/pools`).then((r) => r.body.json()) as { backends: { circuit: string }[] }[])[0]!.backends[1]!.circuit === 'open', 3000, 20, 'the circuit opened for the process')
    // Fresh connections land on both workers: none of them sends to b any more.
    for (let i = 0; i < 20; i++) expect((await fresh(`${s.url}/x`)).upstream).toBe('a')
    expect(hitsB).toBe(3)
    expect(Math.min(...(await workerRequests(s)))).toBeGreaterThan(0)
  })

  it('reloads every worker with one validated document, and refuses a bad one for all', async () => {
    ups = [await startUpstream('a'), await startUpstream('b')]
    const s = await start(base([ups[0]!.url]))
    const ok = await s.reload(base([ups[1]!.url]))
    expect(ok.ok).toBe(true)
    for (let i = 0; i < 20; i++) expect((await fresh(`${s.url}/x`)).upstream).toBe('b')
    const bad = await s.reload({ ...base([ups[0]!.url]), routes: [{ name: 'all', match: { path: '/' }, pool: 'nowhere' }] })
    expect(bad.ok).toBe(false)
    for (let i = 0; i < 10; i++) expect((await fresh(`${s.url}/x`)).upstream).toBe('b')
    expect(Math.min(...(await workerRequests(s)))).toBeGreaterThan(0)
  })

  it('replaces a worker that dies, while the other keeps serving', async () => {
    ups = [await startUpstream('a')]
    const s = await start(base([ups[0]!.url]))
    // Find which worker a kept-alive connection lands on, then end the other one.
    const kept = new Agent({ connections: 1, pipelining: 1 })
    agents.push(kept)
    const ask = async () => {
      const res = await request(`${s.url}/x`, { dispatcher: kept })
      await res.body.text()
      return res.statusCode
    }
    const before = await workerRequests(s)
    expect(await ask()).toBe(200)
    const after = await workerRequests(s)
    const mine = after.findIndex((n, i) => n > before[i]!)
    const other = 1 - mine
    const dying = s.threads[other]!
    await dying.terminate()
    for (let i = 0; i < 20; i++) expect(await ask()).toBe(200)
    await waitFor(async () => {
      const views = (await (await request(`${s.gateway.adminUrl}/api/workers`)).body.json()) as { id: number; restarts: number; threadId: number }[]
      return views[other]!.restarts === 1 && views[other]!.threadId !== dying.threadId && views[other]!.threadId > 0
    }, 10_000, 50, 'the replacement worker')
    // The replacement serves too.
    await waitFor(async () => {
      for (let i = 0; i < 10; i++) expect((await fresh(`${s.url}/x`)).status).toBe(200)
      return (await workerRequests(s))[other]! > 0
    }, 10_000, 50, 'traffic on the replacement')
  })
})
