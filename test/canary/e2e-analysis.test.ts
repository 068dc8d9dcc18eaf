import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { canaries, canaryConfig, canaryEvents, drive, splitOf, startWarmCanary } from './helpers.js'

let gw: StartedGateway | undefined
const ups: TestUpstream[] = []
afterEach(async () => {
  await gw?.close()
  gw = undefined
  await Promise.all(ups.splice(0).map((u) => u.close()))
})

async function upstream(name: string, handler?: Parameters<typeof startUpstream>[1]): Promise<TestUpstream> {
  const u = await startUpstream(name, handler)
  ups.push(u)
  return u
}

function delayed(name: string, ms: number) {
  return (_req: unknown, res: import('node:http').ServerResponse): void => {
    setTimeout(() => res.end(name), ms)
  }
}

const stateOf = (gw: StartedGateway) => gw.events.list().find((e) => e.type === 'canary')?.detail['state']

describe('canary analysis end to end', () => {
  it('promotes a healthy candidate through every step: weights 20 → 50 → 100', async () => {
    const v1 = await upstream('v1', delayed('v1', 15))
    const v2 = await upstream('v2', delayed('v2', 15))
    gw = await startWarmCanary(canaryConfig(v1.url, v2.url, { steps: [20, 50, 100], interval: '200ms', gates: { minRequests: 10, maxErrorRate: 0.02, maxP99Ratio: 20 } }))
    expect(await splitOf(gw)).toEqual({ v1: 80, v2: 20 })
    await drive(gw.url, () => stateOf(gw!) === 'promoted', { concurrency: 16 })
    // A step may also have waited for traffic ('waiting'): that depends on the machine's speed.
    const events = canaryEvents(gw).filter((e) => e.action !== 'waiting')
    expect(events.map((e) => `${e.action}:${e.weight}`)).toEqual(['started:20', 'step:50', 'step:100', 'promoted:100'])
    expect(await splitOf(gw)).toEqual({ v1: 0, v2: 100 })
    const [view] = await canaries(gw)
    expect(view).toMatchObject({ route: 'users', state: 'promoted', weight: 100, baseline: { pool: 'v1', weight: 0 }, candidate: { pool: 'v2', weight: 100 } })
    expect((view!['history'] as { result: string; weight: number }[]).map((h) => `${h.weight}:${h.result}`)).toEqual(['20:passed', '50:passed', '100:passed'])
    // The baseline stays configured (weight 0): every request now goes to the candidate.
    const before = v1.requests.length
    for (let i = 0; i < 10; i++) await (await request(`${gw.url}/x`)).body.text()
    expect(v1.requests.length).toBe(before)
    const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text()
    expect(metrics).toContain('switchyard_canary_weight{route="users",pool="v2"} 100')
    expect(metrics).toContain('switchyard_canary_weight{route="users",pool="v1"} 0')
    expect(metrics).toContain('switchyard_canary_state{route="users"} 2')
  })

  it('rolls back a candidate answering 5 % errors at the first step, with the figures in the event', async () => {
    const v1 = await upstream('v1')
    let n = 0
    const v2 = await upstream('v2', (_req, res) => {
      res.writeHead(++n % 20 === 0 ? 500 : 200, { 'content-type': 'text/plain' })
      res.end('v2')
    })
    gw = await startGateway(canaryConfig(v1.url, v2.url, { steps: [30, 60, 100], interval: '200ms', gates: { minRequests: 40, maxErrorRate: 0.02, maxP99Ratio: 5 } }))
    await drive(gw.url, () => stateOf(gw!) === 'rolled-back')
    const rollback = canaryEvents(gw).at(-1)!
    expect(rollback).toMatchObject({ action: 'rolled-back', state: 'rolled-back', by: 'analysis', gate: 'maxErrorRate', step: 1, weight: 0 })
    const figures = rollback['figures'] as { weight: number; candidate: { requests: number; errors: number; errorRate: number }; baseline: { errors: number } }
    expect(figures.weight).toBe(30)
    expect(figures.candidate.requests).toBeGreaterThanOrEqual(40)
    expect(figures.candidate.errors).toBeGreaterThan(0)
    expect(figures.candidate.errorRate).toBeGreaterThan(0.02)
    expect(figures.baseline.errors).toBe(0)
    expect(await splitOf(gw)).toEqual({ v1: 100, v2: 0 })
    const served = v2.requests.length
    for (let i = 0; i < 10; i++) await (await request(`${gw.url}/x`)).body.text()
    expect(v2.requests.length).toBe(served)
  })

  it('rolls back a candidate whose p99 is 3× the baseline', async () => {
    // 3× slower. The delays are long because a loaded test machine adds its own delay to both
    // cohorts (the client, gateway and upstreams share one event loop here): with a 1.5× gate,
    // the test holds while that overhead stays under 450 ms.
    const v1 = await upstream('v1', delayed('v1', 150))
    const v2 = await upstream('v2', delayed('v2', 450))
    gw = await startWarmCanary(canaryConfig(v1.url, v2.url, { steps: [50, 100], interval: '200ms', gates: { minRequests: 20, maxErrorRate: 0.02, maxP99Ratio: 1.5 } }), 32)
    await drive(gw.url, () => stateOf(gw!) === 'rolled-back', { concurrency: 16 })
    const rollback = canaryEvents(gw).at(-1)!
    expect(rollback).toMatchObject({ action: 'rolled-back', gate: 'maxP99Ratio', step: 1 })
    const figures = rollback['figures'] as { p99Ratio: number; candidate: { p99Ms: number }; baseline: { p99Ms: number } }
    expect(figures.p99Ratio).toBeGreaterThan(1.5)
    expect(figures.candidate.p99Ms).toBeGreaterThanOrEqual(450)
  })

  it('waits with too little traffic: the step is extended, not passed', async () => {
    const v1 = await upstream('v1')
    const v2 = await upstream('v2')
    gw = await startGateway(canaryConfig(v1.url, v2.url, { steps: [50, 100], interval: '100ms', gates: { minRequests: 1000 } }))
    for (let i = 0; i < 20; i++) await (await request(`${gw.url}/x`)).body.text()
    await waitFor(() => canaryEvents(gw!).some((e) => e.action === 'waiting'), 3000, 20, 'a waiting event')
    const waiting = canaryEvents(gw).find((e) => e.action === 'waiting')!
    expect(waiting).toMatchObject({ state: 'progressing', step: 1, weight: 50 })
    expect(waiting['reason']).toMatch(/too little traffic/)
    await new Promise((r) => setTimeout(r, 250))
    const [view] = await canaries(gw)
    expect(view).toMatchObject({ state: 'progressing', step: 1, weight: 50 })
    expect((view!['candidate'] as { requests: number }).requests + (view!['baseline'] as { requests: number }).requests).toBe(20)
    expect(canaryEvents(gw).filter((e) => e.action === 'waiting')).toHaveLength(1)
  })
})
