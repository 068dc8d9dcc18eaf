/**
 * The canary's divergence gate (`gates.maxDivergence`): with the route's `mirror` to the
 * candidate and `compare`, the baseline's requests are copied to the candidate and the answers
 * compared; a candidate that answers differently is rolled back with the figures in the event,
 * one that answers the same (ignored parts aside) is promoted, and too few comparisons wait.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { normalizeConfig } from '../../src/config/index.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { canaries, canaryConfig, canaryEvents, drive } from './helpers.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  gw = undefined
  ups = []
})

function json(name: string, shape: (url: string) => Record<string, unknown>) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ ...shape(req.url ?? '/'), upstream: name, at: Date.now() }))
  }
}

async function setup(candidate: (url: string) => Record<string, unknown>, compare: Record<string, unknown> = {}): Promise<StartedGateway> {
  ups = [await startUpstream('v1', json('v1', (url) => ({ user: url, plan: 'free' }))), await startUpstream('v2', json('v2', candidate))]
  const config = canaryConfig(
    ups[0]!.url,
    ups[1]!.url,
    { steps: [20, 100], interval: '300ms', gates: { minRequests: 10, maxErrorRate: 0.5, maxP99Ratio: 100, maxDivergence: 0.05 } },
    { mirror: { pool: 'v2', compare: { ignore: ['/upstream', '/at'], ...compare } } },
  )
  gw = await startGateway(config)
  return gw
}

describe('canary gate on shadow divergence', () => {
  it('rolls back a candidate whose answers differ from the baseline’s, with the comparison figures in the event', async () => {
    const g = await setup((url) => ({ user: url, plan: 'premium' }))
    await drive(g.url, () => canaryEvents(g).some((e) => e['action'] === 'rolled-back'))
    const rolled = canaryEvents(g).find((e) => e['action'] === 'rolled-back')!
    expect(rolled).toMatchObject({ gate: 'maxDivergence', step: 1, weight: 0, figures: { divergence: { diverged: expect.any(Number), rate: 1 } } })
    expect((rolled['figures'] as { divergence: { compared: number } }).divergence.compared).toBeGreaterThanOrEqual(10)
  })

  it('promotes a candidate that answers the same (ignored parts aside), showing the comparisons per step', async () => {
    const g = await setup((url) => ({ plan: 'free', user: url }))
    await drive(g.url, () => canaryEvents(g).some((e) => e['action'] === 'promoted'))
    const [view] = await canaries(g)
    expect(view).toMatchObject({ state: 'promoted' })
    const history = (view as { history: { divergence: { compared: number; diverged: number } }[] }).history
    expect(history[0]!.divergence.diverged).toBe(0)
    expect(history[0]!.divergence.compared).toBeGreaterThanOrEqual(10)
  })

  it('waits while too few answers were compared', async () => {
    // Every answer is larger than compare.maxBodySize: none is compared, however much traffic.
    const g = await setup((url) => ({ user: url, plan: 'free' }), { maxBodySize: 16 })
    const t0 = Date.now()
    await drive(g.url, () => Date.now() - t0 > 700 && canaryEvents(g).some((e) => e['action'] === 'waiting'))
    const waiting = canaryEvents(g).find((e) => e['action'] === 'waiting')!
    expect(waiting['reason']).toContain('0 of 10 shadow answers compared')
    const [view] = await canaries(g)
    expect(view).toMatchObject({ state: 'progressing', step: 1, divergence: { compared: 0 } })
    expect((view as { candidate: { requests: number } }).candidate.requests).toBeGreaterThan(10)
  })

  it('needs the route’s mirror to the candidate with compare', () => {
    const config = canaryConfig('http://127.0.0.1:1', 'http://127.0.0.1:2', { steps: [50, 100], gates: { maxDivergence: 0.1 } }, { mirror: { pool: 'v2' } })
    expect(() => normalizeConfig(config)).toThrow(/routes\[0\]\.canary\.gates\.maxDivergence.*compare/)
  })
})
