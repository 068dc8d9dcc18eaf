/**
 * tracing.otlp: the gateway exports a server span per request and a client span per upstream
 * attempt over OTLP/HTTP, received here by a real local receiver. The ids tie together: the
 * server span continues the client's trace under the client's span, each attempt is the server
 * span's child, and the backend saw the attempt's span id as its parent (traceparent).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { freePort, startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
let receiver: OtlpReceiver | undefined
afterEach(async () => {
  await gw?.close()
  gw = undefined
  await up?.close()
  await receiver?.close()
})

const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const SERVER = 2
const CLIENT = 3

describe('OTLP span export', () => {
  it('exports the request span under the client span and one child span per attempt, with the ids the backend saw', async () => {
    receiver = await startOtlpReceiver()
    up = await startUpstream('live')
    const dead = `http://127.0.0.1:${await freePort()}`
    gw = await startGateway({
      tracing: { otlp: { endpoint: receiver.endpoint, headers: { 'x-api-key': 'k1' } } },
      pools: { p: { backends: [dead, up.url], retry: { attempts: 1 } } },
      routes: [{ name: 'api', match: { path: '/api' }, pool: 'p' }],
    })
    // Round robin: of two requests, one starts on the dead backend and is retried on the live one.
    const parents = ['00f067aa0ba902b7', '00f067aa0ba902b8']
    for (const p of parents) {
      const res = await request(`${gw.url}/api/x`, { headers: { traceparent: `00-${CLIENT_TRACE}-${p}-01` } })
      expect(res.statusCode).toBe(200)
      await res.body.text()
    }
    // Closing flushes the batch processor: spans are exported by then.
    await gw.close()
    gw = undefined

    expect(receiver.requests.every((r) => r.path === '/v1/traces' && r.contentType?.startsWith('application/json') && r.headers['x-api-key'] === 'k1')).toBe(true)
    const servers = receiver.spans.filter((s) => s.kind === SERVER)
    expect(servers).toHaveLength(2)
    for (const s of servers) {
      expect(s.traceId).toBe(CLIENT_TRACE)
      expect(parents).toContain(s.parentSpanId)
      expect(s.name).toBe('GET api')
      expect(s.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.path': '/api/x', 'http.response.status_code': 200, 'switchyard.route': 'api', 'switchyard.pool': 'p' })
      expect(s.resource['service.name']).toBe('switchyard')
      expect(s.end >= s.start).toBe(true)
    }
    const retried = servers.find((s) => receiver!.spans.filter((c) => c.parentSpanId === s.spanId).length === 2)
    expect(retried, 'one request was retried').toBeDefined()
    const [first, second] = receiver.spans.filter((c) => c.parentSpanId === retried!.spanId).sort((a, b) => Number(a.start - b.start))
    expect(first).toMatchObject({ kind: CLIENT, traceId: CLIENT_TRACE, status: 2, attributes: { 'switchyard.backend': dead, 'error.type': 'connect-error' } })
    expect(second).toMatchObject({ kind: CLIENT, traceId: CLIENT_TRACE, attributes: { 'switchyard.backend': up.url, 'http.response.status_code': 200, 'http.request.resend_count': 1 } })
    expect(second!.start >= retried!.start && second!.end <= retried!.end).toBe(true)
    // The backend's parent is the attempt that reached it.
    const seen = up.requests.map((r) => r.headers.traceparent as string)
    expect(seen).toContain(`00-${CLIENT_TRACE}-${second!.spanId}-01`)
  })

  it('records a new trace at sampleRate and follows a client decision; the upstream hears the decision', async () => {
    receiver = await startOtlpReceiver()
    up = await startUpstream('live')
    gw = await startGateway({
      tracing: { otlp: { endpoint: receiver.endpoint, sampleRate: 0 } },
      pools: { p: { backends: [up.url] } },
      routes: [{ name: 'api', match: { path: '/' }, pool: 'p' }],
    })
    await (await request(`${gw.url}/new`)).body.text()
    await (await request(`${gw.url}/sampled`, { headers: { traceparent: `00-${CLIENT_TRACE}-00f067aa0ba902b7-01` } })).body.text()
    await gw.close()
    gw = undefined
    expect(up.requests[0]!.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/)
    expect(receiver.spans.filter((s) => s.kind === SERVER).map((s) => s.attributes['url.path'])).toEqual(['/sampled'])
  })

  it('checks the endpoint: a bad one is a config problem with its path', async () => {
    const { normalizeConfig } = await import('../../src/config/index.js')
    expect(() => normalizeConfig({ tracing: { otlp: { endpoint: 'collector:4318' } }, pools: { p: { backends: ['http://127.0.0.1:9'] } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] })).toThrow(/tracing\.otlp\.endpoint/)
  })
})
