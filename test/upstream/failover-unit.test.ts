/**
 * The forward loop in process, no sockets: a real pool registry (never started; backends with
 * made-up URLs) and a stub Transport that records which backend each attempt went to and
 * answers per call. Retries, held 5xx answers, the POST rule, breaker-driven fallback, the
 * last resort, 503 when nothing can answer, and a fallback cycle that terminates.
 */
import { EventEmitter } from 'node:events'
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { normalizeConfig, type GatewaySettings } from '../../src/config/index.js'
import { createMetrics } from '../../src/metrics.js'
import { createForward } from '../../src/proxy/forward.js'
import type { ProxyRequest } from '../../src/proxy/request.js'
import type { Transport, TransportRequest, TransportResponse } from '../../src/proxy/transport.js'
import type { UpstreamResponse } from '../../src/proxy/types.js'
import type { RequestContext } from '../../src/request-context.js'
import type { RuntimeState } from '../../src/runtime-state.js'
import { compileRouteTable } from '../../src/routing/route-table.js'
import { createPoolRegistry, type UpstreamPoolRegistry } from '../../src/upstream/index.js'
import type { Backend } from '../../src/upstream/types.js'
import { newRequestContext } from '../../src/request-context.js'

/** What the stub does for one call: answer with a status, or fail like a socket would. */
type Behaviour = number | 'refuse' | 'reset'

interface StubTransport extends Transport {
  /** Origins asked for, in order. */
  readonly calls: string[]
  readonly requests: TransportRequest[]
}

/** `plan(origin, callIndex)` decides each call. */
function stubTransport(plan: (origin: string, call: number) => Behaviour): StubTransport {
  const calls: string[] = []
  const requests: TransportRequest[] = []
  return {
    calls,
    requests,
    async request(backend: Backend, req: TransportRequest): Promise<TransportResponse> {
      const n = calls.length
      calls.push(backend.origin)
      requests.push(req)
      const b = plan(backend.origin, n)
      if (b === 'refuse') throw Object.assign(new Error(`connect ECONNREFUSED ${backend.origin}`), { code: 'ECONNREFUSED' })
      if (b === 'reset') throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
      return { statusCode: b, headers: { 'content-type': 'text/plain', 'x-backend': backend.origin }, body: Readable.from([Buffer.from(`${b} from ${backend.origin}`)]) }
    },
  }
}

const CB = { consecutiveFailures: 1, openDuration: '1h', halfOpenRequests: 1, maxEjectionPercent: 100 }

let registry: UpstreamPoolRegistry | undefined
afterEach(async () => {
  await registry?.close()
  registry = undefined
})

interface Rig {
  readonly settings: GatewaySettings
  readonly state: RuntimeState
  readonly registry: UpstreamPoolRegistry
  readonly transport: StubTransport
  send(method: string, route?: string, body?: string): Promise<{ ctx: RequestContext; res?: UpstreamResponse; text?: string; err?: Error & { statusCode?: number; code?: string } }>
  openAll(pool: string): void
}

/**
 * `fallbacks` sets pool fallbacks after validation (the config refuses a cycle; the walk must
 * still end on one, e.g. built by an embedder or a future reload path).
 */
function rig(pools: Record<string, unknown>, plan: (origin: string, call: number) => Behaviour, fallbacks: Record<string, string> = {}): Rig {
  const valid = normalizeConfig({ pools, routes: [{ name: 'r', match: { path: '/' }, pool: Object.keys(pools)[0] }] })
  const settings: GatewaySettings = { ...valid, pools: valid.pools.map((p) => (fallbacks[p.name] === undefined ? p : { ...p, fallback: fallbacks[p.name] })) }
  const reg = createPoolRegistry(settings.pools)
  registry = reg
  const table = compileRouteTable(settings.routes)
  const state: RuntimeState = { version: 1, settings, routes: table, pools: reg, pipelines: [] }
  const transport = stubTransport(plan)
  const forward = createForward({ metrics: createMetrics(() => reg, { processMetrics: false }), transport })

  async function send(method: string, routeName = table.routes[0]!.name, body?: string) {
    const headers: Record<string, string> = { host: 'gw.test', 'user-agent': 'unit' }
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body))
    const socket = Object.assign(new EventEmitter(), { remoteAddress: '10.0.0.1', destroyed: false, writableEnded: false })
    const raw = Object.assign(Readable.from(body === undefined ? [] : [Buffer.from(body)]), { headers, httpVersionMajor: 1, httpVersionMinor: 1, method, url: '/x', socket })
    const request: ProxyRequest = { method, url: '/x', headers, raw: raw as unknown as IncomingMessage }
    const ctx: RequestContext = newRequestContext({
      id: 'req-1',
      startedAt: performance.now(),
      state,
      protocol: 'http',
      clientIp: '10.0.0.1',
      peerTrusted: false,
      path: '/x',
      query: '',
      route: table.get(routeName)!,
      upstreamPath: '/x',
    })
    try {
      const res = await forward(request, ctx)
      let text: string | undefined
      if (res.body instanceof Readable) {
        const chunks: Buffer[] = []
        for await (const c of res.body) chunks.push(c as Buffer)
        text = Buffer.concat(chunks).toString()
      } else if (Buffer.isBuffer(res.body)) text = res.body.toString()
      return { ctx, res, text }
    } catch (err) {
      return { ctx, err: err as Error & { statusCode?: number; code?: string } }
    }
  }

  return {
    settings,
    state,
    registry: reg,
    transport,
    send,
    openAll(name) {
      const pool = reg.get(name)!
      for (const b of pool.backends) pool.acquire(b)!.end('failure', 1, 'reset')
      expect(pool.backends.map((b) => b.breaker.state)).toEqual(pool.backends.map(() => 'open'))
      expect(pool.hasAvailable()).toBe(false)
    },
  }
}

const A = 'http://a.test:1'
const B = 'http://b.test:1'
const C = 'http://c.test:1'
const F1 = 'http://f1.test:1'
const F2 = 'http://f2.test:1'

describe('forward: failover over a stub transport', () => {
  it('retries a connect error on the next backend, and its answer wins', async () => {
    const r = rig({ web: { backends: [A, B, C], circuitBreaker: CB } }, (_o, call) => (call === 0 ? 'refuse' : 200))
    const { ctx, res, text, err } = await r.send('GET')
    expect(err).toBeUndefined()
    expect(res!.statusCode).toBe(200)
    expect(r.transport.calls).toHaveLength(2)
    expect(r.transport.calls[1]).not.toBe(r.transport.calls[0])
    expect(text).toBe(`200 from ${r.transport.calls[1]}`)
    expect(ctx).toMatchObject({ attempts: 2, backend: r.transport.calls[1], servedByPool: 'web', fallbackUsed: false })
  })

  it('a connect error is retried for a POST too (nothing reached the upstream)', async () => {
    const r = rig({ web: { backends: [A, B], circuitBreaker: CB } }, (_o, call) => (call === 0 ? 'refuse' : 201))
    const { res } = await r.send('POST', undefined, 'hello')
    expect(res!.statusCode).toBe(201)
    expect(r.transport.calls).toHaveLength(2)
    expect(Buffer.isBuffer(r.transport.requests[1]!.body) && r.transport.requests[1]!.body.toString()).toBe('hello')
  })

  it('holds a 503 listed in retry.on for a GET, and the next backend\'s 200 wins', async () => {
    const r = rig({ web: { backends: [A, B, C], circuitBreaker: CB, retry: { attempts: 1, on: [503] } } }, (_o, call) => (call === 0 ? 503 : 200))
    const { ctx, res, text } = await r.send('GET')
    expect(res!.statusCode).toBe(200)
    expect(r.transport.calls).toHaveLength(2)
    expect(new Set(r.transport.calls).size).toBe(2)
    expect(text).toBe(`200 from ${r.transport.calls[1]}`)
    expect(ctx.backend).toBe(r.transport.calls[1])
    // The 503 counted against its backend (consecutiveFailures: 1 opens it).
    const first = r.registry.get('web')!.backends.find((b) => b.origin === r.transport.calls[0])!
    expect(first.breaker.state).toBe('open')
  })

  it('answers with the held 503 when the retry does no better', async () => {
    const r = rig({ web: { backends: [A, B, C], retry: { attempts: 1, on: [503] } } }, () => 503)
    const { ctx, res, text } = await r.send('GET')
    expect(res!.statusCode).toBe(503)
    expect(r.transport.calls).toHaveLength(2)
    expect(text).toBe(`503 from ${r.transport.calls[1]}`)
    expect(ctx.backend).toBe(r.transport.calls[1])
  })

  it('does not retry a 503 that retry.on does not list', async () => {
    const r = rig({ web: { backends: [A, B], retry: { attempts: 1, on: ['connect-error'] } } }, () => 503)
    const { res } = await r.send('GET')
    expect(res!.statusCode).toBe(503)
    expect(r.transport.calls).toHaveLength(1)
  })

  it('does not retry a POST after a reset: 502, one attempt', async () => {
    const r = rig({ web: { backends: [A, B, C], circuitBreaker: CB } }, () => 'reset')
    const { ctx, err } = await r.send('POST', undefined, '{"n":1}')
    expect(err?.statusCode).toBe(502)
    expect(err?.code).toBe('SWITCHYARD_UPSTREAM_RESET')
    expect(r.transport.calls).toHaveLength(1)
    expect(ctx.attempts).toBe(1)
  })

  it('retries a GET after a reset (idempotent)', async () => {
    const r = rig({ web: { backends: [A, B, C], circuitBreaker: CB } }, (_o, call) => (call === 0 ? 'reset' : 200))
    const { res } = await r.send('GET')
    expect(res!.statusCode).toBe(200)
    expect(r.transport.calls).toHaveLength(2)
  })

  it('a pool whose breakers are all open degrades to its fallback pool', async () => {
    const r = rig(
      { primary: { backends: [A, B], circuitBreaker: CB, fallback: 'backup' }, backup: { backends: [F1, F2] } },
      () => 200,
    )
    r.openAll('primary')
    const { ctx, res, text } = await r.send('GET')
    expect(res!.statusCode).toBe(200)
    expect(r.transport.calls).toHaveLength(1)
    expect([F1, F2]).toContain(r.transport.calls[0])
    expect(text).toBe(`200 from ${r.transport.calls[0]}`)
    expect(ctx).toMatchObject({ pool: 'primary', servedByPool: 'backup', fallbackUsed: true, backend: r.transport.calls[0] })
    expect(ctx.lastResort).toBeUndefined()
  })

  it('with nothing available anywhere, the last resort tries the pool anyway; when that fails too: ERR_NO_BACKEND (503)', async () => {
    const r = rig(
      { primary: { backends: [A, B], circuitBreaker: CB, fallback: 'backup' }, backup: { backends: [F1], circuitBreaker: CB } },
      () => 'refuse',
    )
    r.openAll('primary')
    r.openAll('backup')
    const { ctx, err } = await r.send('GET')
    expect(err?.statusCode).toBe(503)
    expect(err?.code).toBe('SWITCHYARD_NO_BACKEND')
    expect(err?.message).toContain('"primary"')
    // Only the chosen pool's backends, each once, as the last resort.
    expect([...r.transport.calls].sort()).toEqual([A, B])
    expect(ctx.lastResort).toBe(true)
  })

  it('the last resort that succeeds serves the request', async () => {
    const r = rig({ solo: { backends: [A], circuitBreaker: CB } }, () => 200)
    r.openAll('solo')
    const { ctx, res } = await r.send('GET')
    expect(res!.statusCode).toBe(200)
    expect(r.transport.calls).toEqual([A])
    expect(ctx.lastResort).toBe(true)
    // A success closes the breaker (SPEC §5).
    expect(r.registry.get('solo')!.backends[0]!.breaker.state).toBe('closed')
  })

  it('the configuration refuses a fallback cycle', () => {
    expect(() => normalizeConfig({ pools: { a: { backends: [A], fallback: 'b' }, b: { backends: [C], fallback: 'a' } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'a' }] })).toThrow(
      /pools\.a\.fallback: fallback cycle: a → b → a/,
    )
  })

  it('a fallback cycle (a → b → a) with every breaker open terminates with 503', async () => {
    const r = rig(
      { a: { backends: [A, B], circuitBreaker: CB, fallback: 'b' }, b: { backends: [C], circuitBreaker: CB } },
      () => 'refuse',
      { b: 'a' },
    )
    expect(r.registry.get('b')!.fallback).toBe('a')
    r.openAll('a')
    r.openAll('b')
    const { err } = await r.send('GET')
    expect(err?.statusCode).toBe(503)
    expect(err?.code).toBe('SWITCHYARD_NO_BACKEND')
    // The walk a → b stops at the repeat; the last resort is a's backends, each once.
    expect([...r.transport.calls].sort()).toEqual([A, B])
  })

  it('a fallback cycle whose backends all refuse visits each pool once and answers 502', async () => {
    const r = rig(
      { a: { backends: [A, B], fallback: 'b', retry: { attempts: 1 } }, b: { backends: [C] } },
      () => 'refuse',
      { b: 'a' },
    )
    expect(r.registry.get('b')!.fallback).toBe('a')
    const { ctx, err } = await r.send('GET')
    expect(err?.statusCode).toBe(502)
    expect(err?.code).toBe('SWITCHYARD_UPSTREAM_CONNECT')
    // Two tries on a (one retry), then b's one backend, and never back to a.
    expect(r.transport.calls).toHaveLength(3)
    expect(new Set(r.transport.calls.slice(0, 2))).toEqual(new Set([A, B]))
    expect(r.transport.calls[2]).toBe(C)
    expect(ctx).toMatchObject({ fallbackUsed: true, servedByPool: 'b' })
  })
})
