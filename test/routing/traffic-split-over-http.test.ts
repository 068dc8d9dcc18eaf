import { afterEach, describe, expect, it } from 'vitest'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { inBatches, send } from './http-client.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  gw = undefined
  ups = []
})

async function twoPools(route: Record<string, unknown>): Promise<{ v1: TestUpstream; v2: TestUpstream; gw: StartedGateway }> {
  const v1 = await startUpstream('v1')
  const v2 = await startUpstream('v2')
  ups = [v1, v2]
  gw = await startGateway(
    {
      pools: { 'users-v1': { backends: [v1.url] }, 'users-v2': { backends: [v2.url] } },
      routes: [{ name: 'users', match: { path: '/api/users' }, ...route }],
    },
    // Thousands of requests: no access-log capture needed here.
    { logger: false },
  )
  return { v1, v2, gw }
}

const upstreamOf = (body: string): string => (JSON.parse(body) as { upstream: string }).upstream

describe('traffic splits over HTTP', () => {
  it('draws each request by weight: observed shares match 75/25 within sampling error', async () => {
    const { gw } = await twoPools({
      split: [
        { pool: 'users-v1', weight: 75 },
        { pool: 'users-v2', weight: 25 },
      ],
    })
    const n = 400
    const answers = await inBatches(n, 16, () => send(`${gw.url}/api/users/1`))
    expect(answers.every((a) => a.status === 200)).toBe(true)
    const v2Share = answers.filter((a) => upstreamOf(a.body) === 'v2').length / n
    expect(Math.abs(v2Share - 0.25)).toBeLessThan(5 * Math.sqrt((0.25 * 0.75) / n))
  })

  it('keeps each of 1,000 sticky keys on one pool, and grows the canary cohort monotonically as its weight rises', async () => {
    const { gw } = await twoPools({
      split: [
        { pool: 'users-v1', weight: 90 },
        { pool: 'users-v2', weight: 10 },
      ],
      sticky: 'header:x-user-id',
    })
    const keys = Array.from({ length: 1000 }, (_, i) => `user-${i}`)
    const assign = (): Promise<string[]> => inBatches(keys.length, 32, async (i) => upstreamOf((await send(`${gw.url}/api/users/me`, { headers: { 'x-user-id': keys[i]! } })).body))

    const first = await assign()
    const again = await assign()
    expect(again).toEqual(first)
    let canary = first.filter((p) => p === 'v2').length
    expect(canary).toBeGreaterThan(50)
    expect(canary).toBeLessThan(150)

    let previous = first
    for (const weight of [40]) {
      const put = await send(`${gw.adminUrl}/api/routes/users/split`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ weights: { 'users-v2': weight } }),
      })
      expect(put.status).toBe(200)
      const now = await assign()
      for (let i = 0; i < keys.length; i++) if (previous[i] === 'v2') expect(now[i], keys[i]).toBe('v2')
      const grown = now.filter((p) => p === 'v2').length
      expect(grown).toBeGreaterThan(canary)
      canary = grown
      previous = now
    }
  }, 60_000)

  it('assigns a missing cohort cookie on the response and reuses it on later requests', async () => {
    const { gw } = await twoPools({
      split: [
        { pool: 'users-v1', weight: 50 },
        { pool: 'users-v2', weight: 50 },
      ],
      sticky: 'cookie:sy_cohort',
      stickyCookie: { ttl: '1h' },
    })
    const seen = new Set<string>()
    for (let client = 0; client < 30; client++) {
      const first = await send(`${gw.url}/api/users`)
      const setCookie = String(first.headers['set-cookie'])
      expect(setCookie).toMatch(/^sy_cohort=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=3600$/)
      const cookie = setCookie.slice(0, setCookie.indexOf(';'))
      const pool = upstreamOf(first.body)
      seen.add(pool)
      for (let k = 0; k < 3; k++) {
        const next = await send(`${gw.url}/api/users/x`, { headers: { cookie: `theme=dark; ${cookie}` } })
        expect(upstreamOf(next.body)).toBe(pool)
        expect(next.headers['set-cookie']).toBeUndefined()
      }
    }
    expect(seen).toEqual(new Set(['v1', 'v2']))
  })

  it('honours the override header for pools of the split only, and never forwards it', async () => {
    const { v1, v2, gw } = await twoPools({
      split: [
        { pool: 'users-v1', weight: 100 },
        { pool: 'users-v2', weight: 0 },
      ],
      override: 'X-Switchyard-Pool',
    })
    const toCanary = await send(`${gw.url}/api/users`, { headers: { 'x-switchyard-pool': 'users-v2' } })
    expect(upstreamOf(toCanary.body)).toBe('v2')
    for (const value of ['users-static', 'v2', 'USERS-V2']) {
      const ignored = await send(`${gw.url}/api/users`, { headers: { 'x-switchyard-pool': value } })
      expect(upstreamOf(ignored.body), value).toBe('v1')
    }
    for (const r of [...v1.requests, ...v2.requests]) expect(r.headers['x-switchyard-pool']).toBeUndefined()
    expect(v1.requests).toHaveLength(3)
    expect(v2.requests).toHaveLength(1)
  })

  it('counts requests per route and serving pool so a canary can be compared with its baseline', async () => {
    const { gw } = await twoPools({
      split: [
        { pool: 'users-v1', weight: 1 },
        { pool: 'users-v2', weight: 1 },
      ],
      override: 'x-pool',
    })
    await send(`${gw.url}/api/users`, { headers: { 'x-pool': 'users-v1' } })
    await send(`${gw.url}/api/users`, { headers: { 'x-pool': 'users-v2' } })
    const metrics = (await send(`${gw.adminUrl}/metrics`)).body
    expect(metrics).toMatch(/switchyard_requests_total\{[^}]*route="users"[^}]*pool="users-v1"[^}]*\} 1/)
    expect(metrics).toMatch(/switchyard_requests_total\{[^}]*route="users"[^}]*pool="users-v2"[^}]*\} 1/)
  })
})
