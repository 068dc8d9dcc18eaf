import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import type { GatewaySettings, RouteSettings } from '../../src/config/model.js'
import { compileRouteTable } from '../../src/routing/route-table.js'
import type { RuntimeState } from '../../src/runtime-state.js'
import type { PoolRegistry } from '../../src/upstream/types.js'
import apiRoutes from '../../routes/api-routes.js'
import { route } from './route-fixtures.js'

// The admin plugin only reads the route table; a registry with no pools stands in for the rest.
const noPools: PoolRegistry = { get: () => undefined, all: () => [] }

function stateOf(routes: RouteSettings[], version = 1): RuntimeState {
  return { version, settings: { routes } as unknown as GatewaySettings, routes: compileRouteTable(routes), pools: noPools, pipelines: [] }
}

const usersRoute = route(
  'users',
  {
    path: '/api/users',
    host: 'api.example.com',
    methods: ['GET', 'POST'],
    headers: { 'x-tenant': { kind: 'exact', value: 'acme' }, 'x-beta': { kind: 'regex', source: '^y' }, 'x-debug': { kind: 'present', present: false } },
  },
  {
    split: [
      { pool: 'users-v1', weight: 90 },
      { pool: 'users-v2', weight: 10 },
    ],
    sticky: { kind: 'header', name: 'x-user-id' },
    override: 'x-switchyard-pool',
    mirror: { pool: 'users-v2', percent: 5, maxBodySize: 1024 },
  },
)
const ordersRoute = route('orders', { pathExact: '/api/orders' }, { split: [{ pool: 'orders', weight: 1 }] })

let app: FastifyInstance | undefined
afterEach(async () => {
  await app?.close()
  app = undefined
})

async function build(initial: RuntimeState): Promise<{ app: FastifyInstance; audits: { event: string; detail: object }[]; setState(s: RuntimeState): void }> {
  let state = initial
  const audits: { event: string; detail: object }[] = []
  app = Fastify()
  await app.register(apiRoutes, { getState: () => state, audit: (event, detail) => audits.push({ event, detail }) })
  await app.ready()
  return { app, audits, setState: (s) => (state = s) }
}

describe('admin API: GET /api/routes and PUT /api/routes/:name/split', () => {
  it('lists routes in order with their match as written and their split', async () => {
    const { app } = await build(stateOf([usersRoute, ordersRoute]))
    const res = await app.inject({ method: 'GET', url: '/api/routes' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual([
      {
        name: 'users',
        match: { path: '/api/users', host: 'api.example.com', methods: ['GET', 'POST'], headers: { 'x-tenant': 'acme', 'x-beta': { regex: '^y' }, 'x-debug': { present: false } } },
        split: [
          { pool: 'users-v1', weight: 90 },
          { pool: 'users-v2', weight: 10 },
        ],
        sticky: 'header:x-user-id',
        override: 'x-switchyard-pool',
        mirror: { pool: 'users-v2', percent: 5 },
      },
      // A single pool shows as one split entry.
      { name: 'orders', match: { pathExact: '/api/orders' }, split: [{ pool: 'orders', weight: 1 }] },
    ])
  })

  it('changes weights atomically, answers with the route, audits, and the selector uses them', async () => {
    const state = stateOf([usersRoute, ordersRoute])
    const { app, audits } = await build(state)
    const before = state.routes.get('users')!.split
    const res = await app.inject({ method: 'PUT', url: '/api/routes/users/split', payload: { weights: { 'users-v1': 0, 'users-v2': 30 } } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({
      name: 'users',
      split: [
        { pool: 'users-v1', weight: 0 },
        { pool: 'users-v2', weight: 30 },
      ],
    })
    const after = state.routes.get('users')!.split
    expect(after).not.toBe(before)
    expect(after.choose({ headers: { 'x-user-id': 'u1' }, clientIp: '1.1.1.1', claims: undefined }).pool).toBe('users-v2')
    expect(audits).toEqual([
      {
        event: 'route.split',
        detail: {
          route: 'users',
          before: [
            { pool: 'users-v1', weight: 90 },
            { pool: 'users-v2', weight: 10 },
          ],
          after: [
            { pool: 'users-v1', weight: 0 },
            { pool: 'users-v2', weight: 30 },
          ],
        },
      },
    ])
    const listed = (await app.inject({ method: 'GET', url: '/api/routes' })).json()
    expect(listed[0].split).toEqual([
      { pool: 'users-v1', weight: 0 },
      { pool: 'users-v2', weight: 30 },
    ])
  })

  it('keeps the weights of pools a PUT does not name', async () => {
    const { app } = await build(stateOf([usersRoute]))
    const res = await app.inject({ method: 'PUT', url: '/api/routes/users/split', payload: { weights: { 'users-v2': 50 } } })
    expect(res.json().split).toEqual([
      { pool: 'users-v1', weight: 90 },
      { pool: 'users-v2', weight: 50 },
    ])
  })

  it('answers 404 JSON for an unknown route', async () => {
    const { app, audits } = await build(stateOf([usersRoute]))
    const res = await app.inject({ method: 'PUT', url: '/api/routes/nope/split', payload: { weights: { a: 1 } } })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toMatchObject({ statusCode: 404, message: 'unknown route "nope"' })
    expect(audits).toEqual([])
  })

  it('answers 400 JSON for a pool that is not in the split, changing nothing', async () => {
    const state = stateOf([usersRoute])
    const { app, audits } = await build(state)
    const before = state.routes.get('users')!.split
    const res = await app.inject({ method: 'PUT', url: '/api/routes/users/split', payload: { weights: { 'users-v1': 50, 'users-v3': 50 } } })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ statusCode: 400, code: 'SWITCHYARD_SPLIT_UNKNOWN_POOL' })
    expect(res.json().message).toContain('"users-v3"')
    expect(state.routes.get('users')!.split).toBe(before)
    expect(audits).toEqual([])
  })

  it('answers 400 JSON for bad weights: negative, fractional, strings, booleans, all zero, empty, missing', async () => {
    const { app } = await build(stateOf([usersRoute]))
    const bodies: unknown[] = [
      { weights: { 'users-v1': -1 } },
      { weights: { 'users-v1': 1.5 } },
      { weights: { 'users-v1': '70' } },
      { weights: { 'users-v1': true } },
      { weights: { 'users-v1': 0, 'users-v2': 0 } },
      { weights: {} },
      {},
      { weights: { 'users-v1': 1 }, extra: 1 },
      { weights: [1, 2] },
    ]
    for (const payload of bodies) {
      const res = await app.inject({ method: 'PUT', url: '/api/routes/users/split', payload: payload as object })
      expect(res.statusCode, JSON.stringify(payload)).toBe(400)
      expect(res.json().statusCode).toBe(400)
    }
    const listed = (await app.inject({ method: 'GET', url: '/api/routes' })).json()
    expect(listed[0].split).toEqual([
      { pool: 'users-v1', weight: 90 },
      { pool: 'users-v2', weight: 10 },
    ])
  })

  it('loses runtime weights on reload: the next state is compiled from the file again', async () => {
    const { app, setState } = await build(stateOf([usersRoute]))
    await app.inject({ method: 'PUT', url: '/api/routes/users/split', payload: { weights: { 'users-v2': 90 } } })
    setState(stateOf([usersRoute], 2))
    const listed = (await app.inject({ method: 'GET', url: '/api/routes' })).json()
    expect(listed[0].split[1]).toEqual({ pool: 'users-v2', weight: 10 })
  })
})
