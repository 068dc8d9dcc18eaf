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

describe('server.workers: 2', () => {
  it('spreads connections over both workers and counts them once in /metrics and /api/workers', async () => {
    ups = [await startUpstream('a')]
    const s = await start(base([ups[0]!.url]))
    for (let i = 0; i < 40; i++) expect((await fresh(`${s.url}/x`)).status).toBe(200)
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
})
