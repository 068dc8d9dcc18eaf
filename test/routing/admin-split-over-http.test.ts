import { afterEach, describe, expect, it } from 'vitest'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { send } from './http-client.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  gw = undefined
  ups = []
})

function config(v1: string, v2: string): Record<string, unknown> {
  return {
    pools: { 'users-v1': { backends: [v1] }, 'users-v2': { backends: [v2] } },
    routes: [
      {
        name: 'users',
        match: { path: '/api/users', methods: ['GET', 'POST'], headers: { 'x-tenant': { regex: '^ac' } } },
        split: [
          { pool: 'users-v1', weight: 100 },
          { pool: 'users-v2', weight: 0 },
        ],
      },
      { name: 'orders', match: { pathExact: '/api/orders' }, pool: 'users-v1' },
    ],
  }
}

async function start(): Promise<StartedGateway> {
  const v1 = await startUpstream('v1')
  const v2 = await startUpstream('v2')
  ups = [v1, v2]
  gw = await startGateway(config(v1.url, v2.url))
  return gw
}

function put(g: StartedGateway, name: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  return send(`${g.adminUrl}/api/routes/${name}/split`, { method: 'PUT', headers, body: JSON.stringify(body) })
}

describe('admin split calls over HTTP', () => {
  it('lists the routes with their match and split', async () => {
    const g = await start()
    const res = await send(`${g.adminUrl}/api/routes`)
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual([
      {
        name: 'users',
        match: { path: '/api/users', methods: ['GET', 'POST'], headers: { 'x-tenant': { regex: '^ac' } } },
        split: [
          { pool: 'users-v1', weight: 100 },
          { pool: 'users-v2', weight: 0 },
        ],
      },
      { name: 'orders', match: { pathExact: '/api/orders' }, split: [{ pool: 'users-v1', weight: 1 }] },
    ])
  })

  it('applies new weights to traffic at once, logs them, keeps them over a reload of the same file, and yields to a file that changes them', async () => {
    const g = await start()
    const ask = async () => JSON.parse((await send(`${g.url}/api/users`, { headers: { 'x-tenant': 'acme' } })).body).upstream as string
    expect(await ask()).toBe('v1')
    const res = await put(g, 'users', { weights: { 'users-v1': 0, 'users-v2': 5 } })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toMatchObject({
      name: 'users',
      split: [
        { pool: 'users-v1', weight: 0 },
        { pool: 'users-v2', weight: 5 },
      ],
    })
    for (let i = 0; i < 10; i++) expect(await ask()).toBe('v2')
    const audit = g.logs.find((l) => l.type === 'audit' && l.action === 'route.split')
    expect(audit).toMatchObject({ route: 'users', after: [{ pool: 'users-v1', weight: 0 }, { pool: 'users-v2', weight: 5 }] })

    // The file did not change the split: the runtime weights survive the reload.
    const reloaded = await g.reload(config(ups[0]!.url, ups[1]!.url))
    expect(reloaded.ok).toBe(true)
    expect(await ask()).toBe('v2')
    const kept = JSON.parse((await send(`${g.adminUrl}/api/routes`)).body)
    expect(kept[0].split[1]).toEqual({ pool: 'users-v2', weight: 5 })

    // A file that changes the split's weights wins over the runtime change.
    const edited = structuredClone(config(ups[0]!.url, ups[1]!.url)) as { routes: { split: { pool: string; weight: number }[] }[] }
    edited.routes[0]!.split[0]!.weight = 99
    const reloadedAgain = await g.reload(edited)
    expect(reloadedAgain.ok).toBe(true)
    expect(await ask()).toBe('v1')
    const listed = JSON.parse((await send(`${g.adminUrl}/api/routes`)).body)
    expect(listed[0].split[0]).toEqual({ pool: 'users-v1', weight: 99 })
  })

  it('answers 404 JSON for an unknown route', async () => {
    const g = await start()
    const res = await put(g, 'nope', { weights: { 'users-v1': 1 } })
    expect(res.status).toBe(404)
    expect(JSON.parse(res.body)).toEqual({ statusCode: 404, error: 'Not Found', message: 'unknown route "nope"', code: 'SWITCHYARD_UNKNOWN_ROUTE' })
  })

  it('answers 400 JSON for an unknown pool or bad weights and leaves the split unchanged', async () => {
    const g = await start()
    const unknown = await put(g, 'users', { weights: { 'users-v3': 1 } })
    expect(unknown.status).toBe(400)
    expect(JSON.parse(unknown.body)).toMatchObject({ statusCode: 400, error: 'Bad Request' })
    expect(JSON.parse(unknown.body).message).toContain('"users-v3"')
    for (const body of [{ weights: { 'users-v1': -5 } }, { weights: { 'users-v1': 2.5 } }, { weights: { 'users-v1': '7' } }, { weights: { 'users-v1': 0 } }, { weights: {} }, { nope: 1 }]) {
      const res = await put(g, 'users', body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(JSON.parse(res.body)).toMatchObject({ statusCode: 400, error: 'Bad Request' })
    }
    const notJson = await send(`${g.adminUrl}/api/routes/users/split`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{weights' })
    expect(notJson.status).toBe(400)
    const listed = JSON.parse((await send(`${g.adminUrl}/api/routes`)).body)
    expect(listed[0].split).toEqual([
      { pool: 'users-v1', weight: 100 },
      { pool: 'users-v2', weight: 0 },
    ])
  })
})
