import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { canaries, canaryConfig, canaryEvents, splitOf } from './helpers.js'

let gw: StartedGateway | undefined
const ups: TestUpstream[] = []
afterEach(async () => {
  await gw?.close()
  gw = undefined
  await Promise.all(ups.splice(0).map((u) => u.close()))
})

async function act(route: string, action: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`${gw!.adminUrl}/api/canaries/${route}/${action}`, { method: 'POST' })
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
}

describe('canary admin actions', () => {
  it('pause, resume, promote and rollback by API, each applied to the split and sent to the webhook', async () => {
    const v1 = await startUpstream('v1')
    const v2 = await startUpstream('v2')
    const hook = await startUpstream('hook', (_req, res) => {
      res.writeHead(204).end()
    })
    ups.push(v1, v2, hook)
    gw = await startGateway(canaryConfig(v1.url, v2.url, { steps: [10, 50], interval: '1m', webhook: { url: `${hook.url}/canary`, timeout: '10s' } }))
    const [initial] = await canaries(gw)
    expect(initial).toMatchObject({ route: 'users', state: 'progressing', step: 1, steps: [10, 50], weight: 10, baseline: { pool: 'v1', weight: 90, requests: 0 }, candidate: { pool: 'v2', weight: 10 } })

    expect(await act('users', 'pause')).toMatchObject({ status: 200, body: { state: 'paused', weight: 10 } })
    expect(await act('users', 'pause')).toEqual({ status: 409, body: { statusCode: 409, error: 'Conflict', message: 'cannot pause a canary that is paused', code: 'SWITCHYARD_CANARY_CONFLICT' } })
    expect(await act('users', 'resume')).toMatchObject({ status: 200, body: { state: 'progressing', step: 1 } })
    expect(await act('users', 'promote')).toMatchObject({ status: 200, body: { state: 'promoted', weight: 100 } })
    expect(await splitOf(gw)).toEqual({ v1: 0, v2: 100 })
    expect(await act('users', 'rollback')).toMatchObject({ status: 200, body: { state: 'rolled-back', weight: 0 } })
    expect(await splitOf(gw)).toEqual({ v1: 100, v2: 0 })
    expect(await act('nope', 'pause')).toEqual({ status: 404, body: { statusCode: 404, error: 'Not Found', message: 'route "nope" has no canary', code: 'SWITCHYARD_CANARY_UNKNOWN' } })

    const actions = canaryEvents(gw).map((e) => `${e.action}/${e.by}`)
    expect(actions).toEqual(['started/analysis', 'paused/operator', 'resumed/operator', 'promoted/operator', 'rolled-back/operator'])
    await waitFor(() => hook.requests.length >= 5, 10_000, 20, 'five webhook calls')
    const bodies = hook.requests.map((r) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>)
    expect(hook.requests.every((r) => r.method === 'POST' && r.url === '/canary' && r.headers['content-type'] === 'application/json')).toBe(true)
    expect(bodies.map((b) => b['action']).sort()).toEqual(['paused', 'promoted', 'resumed', 'rolled-back', 'started'])
    expect(bodies.find((b) => b['action'] === 'rolled-back')).toMatchObject({ route: 'users', state: 'rolled-back', weight: 0, baseline: 'v1', candidate: 'v2', by: 'operator' })
    expect(gw.logs.some((l) => l['type'] === 'audit' && l['action'] === 'canary.promote')).toBe(true)
  })

  it('owns the route weights: a manual split change on a canary route is undone within a tick', async () => {
    const v1 = await startUpstream('v1')
    const v2 = await startUpstream('v2')
    ups.push(v1, v2)
    gw = await startGateway(canaryConfig(v1.url, v2.url, { steps: [10, 50], interval: '2s' }))
    const put = await request(`${gw.adminUrl}/api/routes/users/split`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ weights: { v1: 50, v2: 50 } }) })
    expect(put.statusCode).toBe(200)
    await put.body.text()
    // The tick is a tenth of the interval (200 ms here).
    await waitFor(async () => JSON.stringify(await splitOf(gw!)) === JSON.stringify({ v1: 90, v2: 10 }), 3000, 50, 'the canary weights back')
  })

  it('logs a failing webhook and carries on', async () => {
    const v1 = await startUpstream('v1')
    const v2 = await startUpstream('v2')
    ups.push(v1, v2)
    gw = await startGateway(canaryConfig(v1.url, v2.url, { steps: [10], interval: '1m', webhook: { url: 'http://127.0.0.1:1/hook', timeout: '500ms' } }))
    expect((await act('users', 'rollback')).status).toBe(200)
    await waitFor(() => gw!.logs.some((l) => l['msg'] === 'canary webhook failed'), 3000, 20, 'the webhook failure log line')
    expect((await canaries(gw))[0]).toMatchObject({ state: 'rolled-back' })
  })

  it('lists no canaries for a gateway without any, and pays nothing on plain routes', async () => {
    const v1 = await startUpstream('v1')
    ups.push(v1)
    gw = await startGateway({ pools: { v1: { backends: [v1.url] } }, routes: [{ name: 'plain', match: { path: '/' }, pool: 'v1' }] })
    expect(await canaries(gw)).toEqual([])
    expect(gw.state.pipelines[0]!.features).not.toContain('canary')
  })
})
