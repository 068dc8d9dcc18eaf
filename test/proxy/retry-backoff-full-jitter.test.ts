/**
 * Backoff between tries: exponential with full jitter, drawn with an injected random source
 * and waited with an injected sleep (no real time): the n-th retry waits
 * random × min(max, base × 2^(n-1)); a retry whose wait would pass the route's total deadline
 * is not made (the answer so far stands).
 */
import { EventEmitter } from 'node:events'
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { normalizeConfig } from '../../src/config/index.js'
import { createMetrics } from '../../src/metrics.js'
import { createForward } from '../../src/proxy/forward.js'
import type { ProxyRequest } from '../../src/proxy/request.js'
import { backoffDelay } from '../../src/proxy/retry-policy.js'
import type { Transport, TransportResponse } from '../../src/proxy/transport.js'
import type { RequestContext } from '../../src/request-context.js'
import type { RuntimeState } from '../../src/runtime-state.js'
import { compileRouteTable } from '../../src/routing/route-table.js'
import { createPoolRegistry, type UpstreamPoolRegistry } from '../../src/upstream/index.js'

let registry: UpstreamPoolRegistry | undefined
afterEach(async () => {
  await registry?.close()
  registry = undefined
})

describe('backoffDelay', () => {
  const plan = { backoffBase: 100, backoffMax: 350 }
  it('draws in [0, min(max, base × 2^(n-1))) with full jitter', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(plan, n, () => 0.999999))).toEqual([99, 199, 349, 349])
    expect([1, 2, 3].map((n) => backoffDelay(plan, n, () => 0))).toEqual([0, 0, 0])
    expect(backoffDelay(plan, 2, () => 0.5)).toBe(100)
    expect(backoffDelay({ backoffBase: 0, backoffMax: 0 }, 3, () => 0.5)).toBe(0)
  })
})

function rig(pool: Record<string, unknown>, random: () => number) {
  const settings = normalizeConfig({
    pools: { main: { backends: ['http://a.test:1', 'http://b.test:1', 'http://c.test:1'], circuitBreaker: { consecutiveFailures: 100 }, ...pool } },
    routes: [{ name: 'r', match: { path: '/' }, pool: 'main' }],
  })
  const reg = (registry = createPoolRegistry(settings.pools))
  const table = compileRouteTable(settings.routes)
  const state: RuntimeState = { version: 1, settings, routes: table, pools: reg, pipelines: [] }
  const calls: string[] = []
  const transport: Transport = {
    async request(backend): Promise<TransportResponse> {
      calls.push(backend.origin)
      return { statusCode: 502, headers: {}, body: Readable.from([Buffer.from('bad')]) }
    },
  }
  const waits: number[] = []
  const forward = createForward({
    metrics: createMetrics(() => reg, { processMetrics: false }),
    transport,
    random,
    sleep: async (ms) => void waits.push(ms),
  })
  async function send() {
    const headers = { host: 'gw.test' }
    const socket = Object.assign(new EventEmitter(), { remoteAddress: '10.0.0.1' })
    const raw = Object.assign(Readable.from([]), { headers, method: 'GET', url: '/x', socket })
    const request: ProxyRequest = { method: 'GET', url: '/x', headers, raw: raw as unknown as IncomingMessage }
    const ctx = { id: 'r1', startedAt: 0, state, protocol: 'http', clientIp: '10.0.0.1', peerTrusted: false, path: '/x', query: '', route: table.get('r')!, upstreamPath: '/x', pool: 'main', attempts: 0, fallbackUsed: false } as unknown as RequestContext
    const res = await forward(request, ctx)
    if (res.body instanceof Readable) res.body.resume()
    return res.statusCode
  }
  return { send, calls, waits }
}

describe('the forward loop', () => {
  it('waits the drawn backoff before each retry', async () => {
    const r = rig({ retry: { attempts: 2, backoff: { base: '100ms', max: '150ms' } } }, () => 0.5)
    expect(await r.send()).toBe(502)
    expect(r.calls).toEqual(['http://a.test:1', 'http://b.test:1', 'http://c.test:1'])
    expect(r.waits).toEqual([50, 75])
  })

  it('makes no retry whose wait would pass the total deadline', async () => {
    const r = rig({ retry: { attempts: 2, backoff: { base: '10s', max: '10s' } }, timeouts: { total: '1s' } }, () => 0.5)
    expect(await r.send()).toBe(502)
    expect(r.calls).toEqual(['http://a.test:1'])
    expect(r.waits).toEqual([])
  })
})
