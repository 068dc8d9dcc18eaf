/**
 * The rate-limit feature in-process (no sockets): per-route compilation and phase, synchronous
 * stages on the memory store, 429 with Retry-After and RateLimit-* headers, store failures open
 * or closed (and counted, and logged with a throttle), promises only for stores that answer later.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Counter, Registry } from 'prom-client'
import { createRateLimitStore } from '../../plugins/rate-limit-store.js'
import { normalizeConfig, type GatewaySettings } from '../../src/config/index.js'
import type { Feature, PreparedFeature, RouteFeature } from '../../src/pipeline/feature.js'
import type { ProxyRequest } from '../../src/proxy/request.js'
import { createRateLimitFeature, STORE_ERROR_LOG_INTERVAL } from '../../src/ratelimit/rate-limit-feature.js'
import type { RateLimitStore, RateLimitStoreHandle } from '../../src/ratelimit/store.js'
import type { RequestContext } from '../../src/request-context.js'
import { compileRouteTable } from '../../src/routing/route-table.js'
import type { CompiledRoute } from '../../src/routing/types.js'
import { newRequestContext } from '../../src/request-context.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function config(): GatewaySettings {
  return normalizeConfig({
    jwt: { secret: 'a-test-secret-that-is-32-bytes-long!!', algorithms: ['HS256'] },
    pools: { main: { backends: ['http://127.0.0.1:9'] } },
    routes: [
      { name: 'open', match: { path: '/open' }, pool: 'main' },
      { name: 'users', match: { path: '/api/users' }, pool: 'main', rateLimit: { max: 2, window: '1m' } },
      { name: 'other', match: { path: '/api/other' }, pool: 'main', rateLimit: { max: 2, window: '1m' } },
      { name: 'by-user', match: { path: '/me' }, pool: 'main', jwt: true, rateLimit: { max: 1, window: '1m', key: 'jwt:sub' } },
      { name: 'by-query', match: { path: '/q' }, pool: 'main', rateLimit: { max: 1, window: '1m', key: 'query:tenant' } },
      { name: 'strict', match: { path: '/strict' }, pool: 'main', rateLimit: { max: 5, window: '1m', onStoreError: 'deny' } },
    ],
  })
}

function request(headers: Record<string, string> = {}): ProxyRequest {
  return { method: 'GET', url: '/api/users', headers, raw: { socket: { remoteAddress: '10.0.0.1' } } } as never
}

function context(route: CompiledRoute, over: Partial<RequestContext> = {}): RequestContext {
  return Object.assign(newRequestContext({
    id: 'req-1',
    startedAt: 0,
    state: {} as never,
    protocol: 'http',
    clientIp: '10.0.0.1',
    peerTrusted: false,
    path: '/api/users',
    query: '',
    route,
    upstreamPath: '/api/users',
  }), over)
}

interface Rig {
  feature: Feature
  prepared: PreparedFeature
  registry: Registry
  warnings: unknown[]
  clock: { now: number }
  route(name: string): CompiledRoute
  compiled(name: string): RouteFeature
}

async function rig(store: RateLimitStoreHandle = createRateLimitStore({ store: 'memory', redis: '' })): Promise<Rig> {
  const registry = new Registry()
  const rejected = new Counter({ name: 'switchyard_ratelimit_rejected_total', help: 'h', labelNames: ['route'] as const, registers: [registry] })
  const warnings: unknown[] = []
  const clock = { now: 1_000_000 }
  const feature = createRateLimitFeature({ log: { warn: (o) => warnings.push(o) }, registry, rejected, store, now: () => clock.now })
  cleanups.push(() => feature.close?.())
  const settings = config()
  const prepared = await feature.prepare!(settings, undefined)
  prepared.commit?.()
  const table = compileRouteTable(settings.routes)
  return {
    feature,
    prepared,
    registry,
    warnings,
    clock,
    route: (name) => table.get(name)!,
    compiled: (name) => prepared.compileRoute!(table.get(name)!)!,
  }
}

function failure(run: () => unknown): { code?: string; statusCode?: number } {
  try {
    run()
  } catch (err) {
    return err as { code?: string; statusCode?: number }
  }
  throw new Error('expected the stage to throw')
}

/** A store that answers later (like Redis), with an error or counts. */
function laterStore(answer: (key: string) => Error | { current: number; ttl: number }): RateLimitStoreHandle & { calls: string[] } {
  const calls: string[] = []
  const store: RateLimitStore = {
    incr(key, cb) {
      calls.push(key)
      const a = answer(key)
      setImmediate(() => (a instanceof Error ? cb(a) : cb(null, a)))
    },
    child: () => store,
  }
  return { kind: 'redis', store, redis: undefined, calls, ready: () => Promise.resolve(true), close: () => Promise.resolve() }
}

describe('compileRoute', () => {
  it('gives routes without rateLimit nothing; limited routes a stage in early, claim-keyed ones in late', async () => {
    const r = await rig()
    expect(r.prepared.compileRoute!(r.route('open'))).toBeUndefined()
    expect(r.compiled('users').stage?.phase).toBe('early')
    expect(r.compiled('users').middleware).toBeUndefined()
    expect(r.compiled('by-query').stage?.phase).toBe('early')
    expect(r.compiled('by-user').stage?.phase).toBe('late')
  })
})

describe('the stage on the memory store', () => {
  it('runs without a promise, counts down in RateLimit-Remaining, then answers 429 with Retry-After', async () => {
    const r = await rig()
    const run = r.compiled('users').stage!.run
    const remaining: string[] = []
    for (let i = 0; i < 2; i++) {
      const ctx = context(r.route('users'))
      expect(run(request(), ctx)).toBeUndefined()
      expect(ctx.responseHeaders).toMatchObject({ 'ratelimit-limit': '2', 'ratelimit-reset': '60' })
      remaining.push(ctx.responseHeaders!['ratelimit-remaining'] as string)
    }
    expect(remaining).toEqual(['1', '0'])
    const ctx = context(r.route('users'))
    const err = failure(() => run(request(), ctx))
    expect(err).toMatchObject({ code: 'SWITCHYARD_RATE_LIMITED', statusCode: 429 })
    expect(String((err as Error).message)).toMatch(/rate limit exceeded, retry in 60 seconds/)
    expect(ctx.responseHeaders).toEqual({ 'ratelimit-limit': '2', 'ratelimit-remaining': '0', 'ratelimit-reset': '60', 'retry-after': '60' })
    expect(await r.registry.metrics()).toMatch(/switchyard_ratelimit_rejected_total\{route="users"\} 1/)
  })

  it('keeps one bucket per route and key: another route and another client have their own budget', async () => {
    const r = await rig()
    const users = r.compiled('users').stage!.run
    const other = r.compiled('other').stage!.run
    for (let i = 0; i < 2; i++) users(request(), context(r.route('users')))
    expect(failure(() => users(request(), context(r.route('users'))))).toMatchObject({ statusCode: 429 })
    expect(other(request(), context(r.route('other')))).toBeUndefined()
    expect(users(request(), context(r.route('users'), { clientIp: '10.0.0.2' }))).toBeUndefined()
  })

  it('keys claim-keyed routes on the verified claim, and query-keyed routes on the parameter', async () => {
    const r = await rig()
    const me = r.compiled('by-user').stage!.run
    expect(me(request(), context(r.route('by-user'), { claims: { sub: 'alice' } }))).toBeUndefined()
    expect(failure(() => me(request(), context(r.route('by-user'), { claims: { sub: 'alice' } })))).toMatchObject({ statusCode: 429 })
    expect(me(request(), context(r.route('by-user'), { claims: { sub: 'bob' } }))).toBeUndefined()

    const q = r.compiled('by-query').stage!.run
    expect(q(request(), context(r.route('by-query'), { query: 'tenant=acme' }))).toBeUndefined()
    expect(failure(() => q(request(), context(r.route('by-query'), { query: 'tenant=acme' })))).toMatchObject({ statusCode: 429 })
    expect(q(request(), context(r.route('by-query'), { query: 'tenant=other' }))).toBeUndefined()
  })
})

describe('stores that answer later, and store failures', () => {
  it('returns a promise only for a store that answers later, with the same headers', async () => {
    const store = laterStore(() => ({ current: 1, ttl: 30_000 }))
    const r = await rig(store)
    const ctx = context(r.route('users'))
    const out = r.compiled('users').stage!.run(request(), ctx)
    expect(out).toBeInstanceOf(Promise)
    await out
    expect(ctx.responseHeaders).toEqual({ 'ratelimit-limit': '2', 'ratelimit-remaining': '1', 'ratelimit-reset': '30' })
    const over = laterStore(() => ({ current: 3, ttl: 1500 }))
    const r2 = await rig(over)
    await expect(r2.compiled('users').stage!.run(request(), context(r2.route('users')))).rejects.toMatchObject({ code: 'SWITCHYARD_RATE_LIMITED', statusCode: 429 })
  })

  it('fails open by default and closed with onStoreError: deny; counts every failure, logs them throttled', async () => {
    const store = laterStore(() => new Error('connect ECONNREFUSED'))
    const r = await rig(store)
    const open = context(r.route('users'))
    await expect(r.compiled('users').stage!.run(request(), open)).resolves.toBeUndefined()
    expect(open.responseHeaders).toBeUndefined()
    await expect(r.compiled('strict').stage!.run(request(), context(r.route('strict')))).rejects.toMatchObject({
      code: 'SWITCHYARD_RATE_LIMIT_STORE',
      statusCode: 503,
    })
    const text = await r.registry.metrics()
    expect(text).toMatch(/switchyard_ratelimit_store_errors_total\{route="users"\} 1/)
    expect(text).toMatch(/switchyard_ratelimit_store_errors_total\{route="strict"\} 1/)
    expect(r.warnings).toEqual([{ route: 'users', err: 'connect ECONNREFUSED', suppressed: 0 }])
    r.clock.now += STORE_ERROR_LOG_INTERVAL
    await r.compiled('users').stage!.run(request(), context(r.route('users')))
    expect(r.warnings).toHaveLength(2)
    expect(r.warnings[1]).toMatchObject({ suppressed: 1 })
  })

  it('treats a store that throws instead of calling back as a failure, synchronously', async () => {
    const store: RateLimitStore = {
      incr() {
        throw new Error('boom')
      },
      child: () => store,
    }
    const r = await rig({ kind: 'memory', store, redis: undefined, ready: () => Promise.resolve(true), close: () => Promise.resolve() })
    expect(r.compiled('users').stage!.run(request(), context(r.route('users')))).toBeUndefined()
    expect(failure(() => r.compiled('strict').stage!.run(request(), context(r.route('strict'))))).toMatchObject({ statusCode: 503 })
  })

  it('waits for the store once, on the first configuration that limits a route, and closes it with the feature', async () => {
    let readies = 0
    let closed = 0
    const inner = createRateLimitStore({ store: 'memory', redis: '' })
    const handle: RateLimitStoreHandle = {
      ...inner,
      ready: (ms) => (readies++, inner.ready(ms)),
      close: async () => void closed++,
    }
    const r = await rig(handle)
    expect(r.feature.prepare!(config(), config())).not.toBeInstanceOf(Promise)
    expect(readies).toBe(1)
    await r.feature.close?.()
    expect(closed).toBe(1)
  })
})
