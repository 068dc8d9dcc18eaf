/**
 * W3C Trace Context through the gateway: the upstream sees the client's trace id with the
 * gateway's own parent id and the sampled flag kept; a missing or invalid traceparent starts a
 * new trace; tracestate passes through with a valid traceparent; the access log line carries
 * the trace id with the request id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { formatTraceParent, nextHop, parseTraceParent } from '../../src/tracing/trace-context.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT = '00f067aa0ba902b7'
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

let up: TestUpstream
let gw: StartedGateway
beforeAll(async () => {
  up = await startUpstream('traced')
  gw = await startGateway(simpleConfig([up.url]))
})
afterAll(async () => {
  await gw?.close()
  await up?.close()
})

async function send(headers: Record<string, string | string[]>): Promise<{ upstream: Record<string, string | undefined>; requestId: string }> {
  const res = await request(`${gw.url}/t`, { headers })
  const body = (await res.body.json()) as { headers: Record<string, string | undefined> }
  return { upstream: body.headers, requestId: String(res.headers['x-request-id']) }
}

describe('traceparent parsing (W3C Trace Context §3.2)', () => {
  it.each([
    ['valid, sampled', `00-${TRACE}-${PARENT}-01`, true],
    ['valid, not sampled', `00-${TRACE}-${PARENT}-00`, true],
    ['future version with extra fields', `01-${TRACE}-${PARENT}-01-extra`, true],
    ['upper-case hex', `00-${TRACE.toUpperCase()}-${PARENT}-01`, false],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${PARENT}-01`, false],
    ['all-zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`, false],
    ['version ff', `ff-${TRACE}-${PARENT}-01`, false],
    ['version 00 with extra fields', `00-${TRACE}-${PARENT}-01-x`, false],
    ['short trace id', `00-${TRACE.slice(1)}-${PARENT}-01`, false],
    ['garbage', 'hello', false],
  ])('%s', (_name, header, valid) => {
    expect(parseTraceParent(header) !== undefined).toBe(valid)
  })

  it('a continued hop keeps the trace id and sampled flag, with a new parent id', () => {
    const hop = nextHop(`00-${TRACE}-${PARENT}-03`)
    expect(hop).toMatchObject({ traceId: TRACE, parentId: PARENT, continued: true })
    expect(hop.spanId).not.toBe(PARENT)
    expect(hop.traceparent).toBe(formatTraceParent(TRACE, hop.spanId, 1))
    const ids = new Set(Array.from({ length: 1000 }, () => nextHop(undefined).traceId))
    expect(ids.size).toBe(1000)
  })
})

describe('trace propagation through the gateway', () => {
  it('propagates the client trace id with the gateway as the new parent, sampled flag kept', async () => {
    for (const flags of ['01', '00']) {
      const { upstream } = await send({ traceparent: `00-${TRACE}-${PARENT}-${flags}` })
      const m = TRACEPARENT.exec(upstream.traceparent ?? '')
      expect(m, upstream.traceparent).not.toBeNull()
      expect(m![1]).toBe(TRACE)
      expect(m![2]).not.toBe(PARENT)
      expect(m![2]).not.toBe('0'.repeat(16))
      expect(m![3]).toBe(flags)
    }
  })

  it('starts a sampled trace when the client sent none', async () => {
    const a = await send({})
    const b = await send({})
    const ma = TRACEPARENT.exec(a.upstream.traceparent ?? '')!
    const mb = TRACEPARENT.exec(b.upstream.traceparent ?? '')!
    expect(ma[3]).toBe('01')
    expect(ma[1]).not.toBe(mb[1])
  })

  it('replaces an invalid traceparent with a new trace and drops its tracestate', async () => {
    const { upstream } = await send({ traceparent: `00-${TRACE.toUpperCase()}-${PARENT}-01`, tracestate: 'vendor=abc' })
    const m = TRACEPARENT.exec(upstream.traceparent ?? '')!
    expect(m[1]).not.toBe(TRACE.toLowerCase())
    expect(upstream.tracestate).toBeUndefined()
  })

  it('passes tracestate through with a valid traceparent', async () => {
    const { upstream } = await send({ traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' })
    expect(upstream.tracestate).toBe('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7')
  })

  it('logs the trace id with the request id on the access-log line', async () => {
    const { requestId } = await send({ traceparent: `00-${TRACE}-${PARENT}-01`, 'x-request-id': 'trace-log-1' })
    expect(requestId).toBe('trace-log-1')
    const line = await waitFor(() => gw.logs.find((l) => l.type === 'access' && l.reqId === 'trace-log-1'), 2000, 10, 'access line')
    expect(line!.traceId).toBe(TRACE)
  })
})
