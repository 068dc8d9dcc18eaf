import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { canaries, canaryConfig, canaryEvents, drive, splitOf } from './helpers.js'

let gw: StartedGateway | undefined
const ups: TestUpstream[] = []
afterEach(async () => {
  await gw?.close()
  gw = undefined
  await Promise.all(ups.splice(0).map((u) => u.close()))
})

describe('canary across reloads', () => {
  it('keeps the state, step and weights of an unchanged canary block; restarts a changed one and says so', async () => {
    const v1 = await startUpstream('v1')
    const v2 = await startUpstream('v2')
    ups.push(v1, v2)
    const config = canaryConfig(v1.url, v2.url, { steps: [10, 40, 80], interval: '150ms', gates: { minRequests: 5, maxP99Ratio: 20 } })
    gw = await startGateway(config)
    await drive(gw.url, () => gw!.events.list().some((e) => e.type === 'canary' && e.detail['action'] === 'step'))
    await request(`${gw.adminUrl}/api/canaries/users/pause`, { method: 'POST' }).then((r) => r.body.text())
    const before = (await canaries(gw))[0]!
    // Step 2 at least (another step may pass before the pause lands on a slow machine).
    expect(before).toMatchObject({ state: 'paused' })
    expect(before['step']).toBeGreaterThanOrEqual(2)
    const weight = before['weight'] as number

    // The same block (another key of the file changed): the analysis carries on where it was.
    const touched = { ...config, routes: (config['routes'] as Record<string, unknown>[]).map((r) => ({ ...r, headers: { response: { set: { 'x-touched': '1' } } } })) }
    expect((await gw.reload(touched)).ok).toBe(true)
    const after = (await canaries(gw))[0]!
    expect(after).toMatchObject({ state: 'paused', step: before['step'], weight, history: before['history'] })
    // …and its weights apply to the newly compiled route, whatever the file says.
    expect(await splitOf(gw)).toEqual({ v1: 100 - weight, v2: weight })
    const res = await request(`${gw.url}/x`)
    expect(res.headers['x-touched']).toBe('1')
    await res.body.text()

    // A changed block starts again at step 1, and says why.
    const changed = canaryConfig(v1.url, v2.url, { steps: [5, 50], interval: '1m', gates: { minRequests: 5 } })
    expect((await gw.reload(changed)).ok).toBe(true)
    expect((await canaries(gw))[0]).toMatchObject({ state: 'progressing', step: 1, weight: 5, history: [] })
    expect(await splitOf(gw)).toEqual({ v1: 95, v2: 5 })
    expect(canaryEvents(gw).at(-1)).toMatchObject({ action: 'restarted', state: 'progressing', weight: 5, reason: expect.stringContaining('changed') })

    // Removing the block ends the analysis (the route keeps the file's split).
    const removed = { ...changed, routes: (changed['routes'] as Record<string, unknown>[]).map(({ canary: _c, ...r }) => r) }
    expect((await gw.reload(removed)).ok).toBe(true)
    expect(await canaries(gw)).toEqual([])
    expect(canaryEvents(gw).at(-1)).toMatchObject({ route: 'users', action: 'removed' })
    const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text()
    expect(metrics).not.toContain('switchyard_canary_weight{route="users"')
  })

  it('a rejected reload leaves the running analysis alone', async () => {
    const v1 = await startUpstream('v1')
    const v2 = await startUpstream('v2')
    ups.push(v1, v2)
    const config = canaryConfig(v1.url, v2.url, { steps: [10, 50], interval: '1m' })
    gw = await startGateway(config)
    await request(`${gw.adminUrl}/api/canaries/users/pause`, { method: 'POST' }).then((r) => r.body.text())
    const bad = canaryConfig(v1.url, v2.url, { steps: [50, 10], interval: '1m' })
    const result = await gw.reload(bad)
    expect(result).toEqual({ ok: false, problems: ['routes[0].canary.steps[1]: must be above the step before it (50)'] })
    expect((await canaries(gw))[0]).toMatchObject({ state: 'paused', step: 1, weight: 10 })
  })
})
