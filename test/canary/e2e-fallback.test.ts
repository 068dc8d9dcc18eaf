import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { freePort, startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { canaryConfig, canaryEvents, drive } from './helpers.js'

let gw: StartedGateway | undefined
const ups: TestUpstream[] = []
afterEach(async () => {
  await gw?.close()
  gw = undefined
  await Promise.all(ups.splice(0).map((u) => u.close()))
})

describe('canary with the baseline as the candidate pool\'s fallback', () => {
  it('counts candidate requests the baseline had to serve as candidate errors, and the baseline still serves once promoted', async () => {
    const v1 = await startUpstream('v1')
    ups.push(v1)
    const dead = `http://127.0.0.1:${await freePort()}` // nothing listens: every candidate attempt fails to connect
    const config = canaryConfig(v1.url, dead, { steps: [50, 100], interval: '200ms', gates: { minRequests: 10, maxErrorRate: 0.02, maxP99Ratio: 50 } })
    ;(config['pools'] as Record<string, Record<string, unknown>>)['v2']!['fallback'] = 'v1'
    gw = await startGateway(config)
    const statuses = new Set<number>()
    await drive(gw.url, () => canaryEvents(gw!).at(-1)?.['state'] === 'rolled-back')
    const rollback = canaryEvents(gw).at(-1)!
    expect(rollback).toMatchObject({ gate: 'maxErrorRate', step: 1 })
    const figures = rollback['figures'] as { candidate: { requests: number; errors: number } }
    expect(figures.candidate.errors).toBe(figures.candidate.requests)

    // Promoted by hand: every request goes to the candidate pool, and its fallback (the
    // baseline) answers while the candidate cannot.
    const res = await request(`${gw.adminUrl}/api/canaries/users/promote`, { method: 'POST' })
    expect(res.statusCode).toBe(200)
    await res.body.text()
    for (let i = 0; i < 10; i++) {
      const r = await request(`${gw.url}/x`)
      statuses.add(r.statusCode)
      expect(JSON.parse(await r.body.text())).toMatchObject({ upstream: 'v1' })
    }
    expect([...statuses]).toEqual([200])
  })
})
