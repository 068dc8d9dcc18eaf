/**
 * The cache middleware in process, no sockets: a MemoryStore, a fake `next` that counts calls
 * and answers like an upstream, routes compiled from a normalised config. Store and hit,
 * invalidation by an unsafe method, no-store, and HEAD served from a stored GET.
 */
import { EventEmitter } from 'node:events'
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { pino } from 'pino'
import { Counter, Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { createCacheMiddleware } from '../../src/cache/cache-forward.js'
import { MemoryStore } from '../../src/cache/memory-store.js'
import { normalizeConfig } from '../../src/config/index.js'
import type { Forward, ForwardOptions, UpstreamResponse } from '../../src/proxy/types.js'
import type { RequestContext } from '../../src/request-context.js'
import type { RuntimeState } from '../../src/runtime-state.js'
import { compileRouteTable } from '../../src/routing/route-table.js'
import { createPoolRegistry, type UpstreamPoolRegistry } from '../../src/upstream/index.js'
import { newRequestContext } from '../../src/request-context.js'

let registry: UpstreamPoolRegistry | undefined
afterEach(async () => {
  await registry?.close()
  registry = undefined
})

interface Call {
  readonly method: string
  readonly path: string
  readonly options: ForwardOptions | undefined
}

type Upstream = (method: string, path: string, options: ForwardOptions | undefined) => { status?: number; headers?: IncomingHttpHeaders; body?: string; stream?: boolean }

interface Served {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: string | null
}

function rig(upstream: Upstream) {
  const settings = normalizeConfig({
    pools: { main: { backends: ['http://origin.test:1'] } },
    routes: [
      { name: 'cached', match: { path: '/c' }, pool: 'main', cache: { ttl: '30s' } },
      { name: 'plain', match: { path: '/p' }, pool: 'main' },
    ],
  })
  registry = createPoolRegistry(settings.pools)
  const table = compileRouteTable(settings.routes)
  const state: RuntimeState = { version: 1, settings, routes: table, pools: registry, pipelines: [] }
  const registryM = new Registry()
  const requests = new Counter({ name: 'cache_requests_total', help: 'test', labelNames: ['route', 'result'] as const, registers: [registryM] })
  const { middleware } = createCacheMiddleware({
    store: new MemoryStore({ maxSize: 1024 * 1024, maxEntrySize: 64 * 1024 }),
    maxEntrySize: 64 * 1024,
    requests,
    log: pino({ level: 'silent' }),
  })
  const calls: Call[] = []
  const next: Forward = async (request, ctx, options) => {
    calls.push({ method: options?.method ?? request.method, path: ctx.path, options })
    const a = upstream(options?.method ?? request.method, ctx.path, options)
    const text = a.body ?? `body of ${ctx.path}`
    const res: UpstreamResponse = {
      statusCode: a.status ?? 200,
      headers: { 'content-type': 'text/plain', 'cache-control': 'max-age=60', ...a.headers },
      body: a.stream ? Readable.from([Buffer.from(text)]) : Buffer.from(text),
    }
    return res
  }
  const forward = middleware(next)

  async function send(method: string, path: string, headers: IncomingHttpHeaders = {}, options?: ForwardOptions): Promise<Served> {
    const route = table.match({ method, host: 'gw.test', path, headers: { host: 'gw.test', ...headers } })
    expect(route, `a route for ${path}`).toBeDefined()
    const h: IncomingHttpHeaders = { host: 'gw.test', ...headers }
    const socket = Object.assign(new EventEmitter(), { remoteAddress: '10.0.0.1' })
    const raw = Object.assign(Readable.from([]), { headers: h, httpVersionMajor: 1, socket })
    const request = { method, url: path, headers: h, raw: raw as unknown as IncomingMessage }
    const ctx: RequestContext = newRequestContext({
      id: `req-${calls.length}`,
      startedAt: performance.now(),
      state,
      protocol: 'http',
      clientIp: '10.0.0.1',
      peerTrusted: false,
      path,
      query: '',
      route,
      upstreamPath: path,
    })
    const res = await forward(request as never, ctx, options)
    let body: string | null = null
    if (Buffer.isBuffer(res.body)) body = res.body.toString()
    else if (res.body !== null) {
      const chunks: Buffer[] = []
      for await (const c of res.body) chunks.push(c as Buffer)
      body = Buffer.concat(chunks).toString()
    }
    return { status: res.statusCode, headers: res.headers, body }
  }

  const counted = async (result: string): Promise<number> => (await requests.get()).values.find((v) => v.labels.result === result)?.value ?? 0
  return { send, calls, counted }
}

describe('cache middleware over a fake next', () => {
  it('stores the first GET and answers the second from the store without calling next', async () => {
    const r = rig(() => ({ stream: true }))
    const first = await r.send('GET', '/c/a')
    expect(first.status).toBe(200)
    expect(first.body).toBe('body of /c/a')
    expect(first.headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    expect(r.calls).toHaveLength(1)

    const second = await r.send('GET', '/c/a')
    expect(second.status).toBe(200)
    expect(second.body).toBe('body of /c/a')
    expect(second.headers['cache-status']).toBe('switchyard; hit')
    expect(second.headers.age).toBeDefined()
    expect(r.calls).toHaveLength(1)
    expect(await r.counted('miss')).toBe(1)
    expect(await r.counted('hit')).toBe(1)

    // Another URL is its own entry.
    await r.send('GET', '/c/b')
    expect(r.calls).toHaveLength(2)
  })

  it('a POST to the same URL goes upstream and invalidates the stored entry', async () => {
    const r = rig(() => ({}))
    await r.send('GET', '/c/item')
    expect((await r.send('GET', '/c/item')).headers['cache-status']).toBe('switchyard; hit')
    expect(r.calls).toHaveLength(1)

    const post = await r.send('POST', '/c/item')
    expect(post.status).toBe(200)
    expect(post.headers['cache-status']).toBe('switchyard; fwd=bypass; detail=method')
    expect(r.calls.map((c) => c.method)).toEqual(['GET', 'POST'])

    const after = await r.send('GET', '/c/item')
    expect(after.headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    expect(r.calls.map((c) => c.method)).toEqual(['GET', 'POST', 'GET'])
  })

  it('a failed POST (5xx) does not invalidate', async () => {
    const r = rig((method) => (method === 'POST' ? { status: 500, headers: { 'cache-control': 'no-store' } } : {}))
    await r.send('GET', '/c/keep')
    expect((await r.send('POST', '/c/keep')).status).toBe(500)
    expect((await r.send('GET', '/c/keep')).headers['cache-status']).toBe('switchyard; hit')
    expect(r.calls.map((c) => c.method)).toEqual(['GET', 'POST'])
  })

  it('a POST to another URL (on an uncached route) leaves the entry alone', async () => {
    const r = rig(() => ({}))
    await r.send('GET', '/c/shared')
    // /p is another route: a POST there must not touch /c/shared.
    await r.send('POST', '/p/other')
    expect((await r.send('GET', '/c/shared')).headers['cache-status']).toBe('switchyard; hit')
    expect(r.calls).toHaveLength(2)
  })

  it('does not store a Cache-Control: no-store response', async () => {
    const r = rig(() => ({ headers: { 'cache-control': 'no-store' } }))
    const first = await r.send('GET', '/c/secret')
    expect(first.status).toBe(200)
    expect(first.body).toBe('body of /c/secret')
    expect(String(first.headers['cache-status'])).toMatch(/^switchyard; fwd=miss; detail=/)
    expect(String(first.headers['cache-status'])).not.toMatch(/stored/)
    const second = await r.send('GET', '/c/secret')
    expect(String(second.headers['cache-status'])).toMatch(/^switchyard; fwd=miss/)
    expect(r.calls).toHaveLength(2)
  })

  it('answers a HEAD from a stored GET, without a body and without calling next', async () => {
    const r = rig(() => ({ body: 'twelve bytes' }))
    await r.send('GET', '/c/h')
    const head = await r.send('HEAD', '/c/h')
    expect(head.status).toBe(200)
    expect(head.body).toBeNull()
    expect(head.headers['cache-status']).toBe('switchyard; hit')
    expect(head.headers['content-length']).toBe('12')
    expect(r.calls).toHaveLength(1)
  })

  it('a HEAD miss fills with a GET, and the GET after it is a hit', async () => {
    const r = rig(() => ({}))
    const head = await r.send('HEAD', '/c/h2')
    expect(head.body).toBeNull()
    expect(head.headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    expect(r.calls).toHaveLength(1)
    expect(r.calls[0]!.options?.method).toBe('GET')
    const get = await r.send('GET', '/c/h2')
    expect(get.headers['cache-status']).toBe('switchyard; hit')
    expect(get.body).toBe('body of /c/h2')
    expect(r.calls).toHaveLength(1)
  })

  it('internal calls (options given) pass straight through to next: never stored, never served from the store', async () => {
    const r = rig(() => ({}))
    const shadow = await r.send('GET', '/c/x', {}, { purpose: 'shadow', noBody: true })
    expect(shadow.headers['cache-status']).toBeUndefined()
    expect(r.calls).toHaveLength(1)
    expect(r.calls[0]!.options).toEqual({ purpose: 'shadow', noBody: true })
    // Nothing was stored by it: the client's GET is a miss.
    expect((await r.send('GET', '/c/x')).headers['cache-status']).toBe('switchyard; fwd=miss; stored')
    // And a stored entry does not answer an internal call.
    await r.send('GET', '/c/x', {}, { purpose: 'shadow', noBody: true })
    expect(r.calls).toHaveLength(3)
  })
})
