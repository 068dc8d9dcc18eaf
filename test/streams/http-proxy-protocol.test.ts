/**
 * PROXY v1/v2 received on the HTTP listener from a trusted outer balancer: the announced client
 * is the client (logs, X-Forwarded-For sent upstream), keep-alive and bodies pass intact; from
 * an untrusted peer the header is not interpreted (it is a malformed request).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startGateway, simpleConfig, type StartedGateway } from '../helpers/gateway.js'
import { rawExchange, statusesOf } from '../helpers/raw-http.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { proxyV1, proxyV2 } from '../../src/streams/proxy-protocol.js'
import { until } from './helpers.js'

let upstream: TestUpstream
let trusted: StartedGateway
let untrusted: StartedGateway

beforeAll(async () => {
  upstream = await startUpstream('u')
  trusted = await startGateway(simpleConfig([upstream.url], { top: { server: { trustedProxies: ['127.0.0.1'] } } }))
  untrusted = await startGateway(simpleConfig([upstream.url]))
})
afterAll(async () => {
  await trusted?.close()
  await untrusted?.close()
  await upstream?.close()
})

const portOf = (gw: StartedGateway): number => Number(new URL(gw.url).port)
const body = 'x'.repeat(200_000)
// The server closes after the last request (or the bad one): the idle bound is only a backstop.
const IDLE = 5000
const requests = `POST /a HTTP/1.1\r\nhost: t\r\ncontent-length: ${body.length}\r\n\r\n${body}GET /b HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n`

describe('PROXY protocol on the HTTP listener', () => {
  test('from a trusted peer, v2 and v1 give the client address; keep-alive and bodies pass', async () => {
    const v2 = proxyV2({ sourceAddress: '203.0.113.7', sourcePort: 5555, destAddress: '127.0.0.1', destPort: 80 })
    expect(statusesOf(await rawExchange(portOf(trusted), [v2, requests], IDLE))).toEqual([200, 200])
    const v1 = proxyV1({ sourceAddress: '198.51.100.9', sourcePort: 4444, destAddress: '127.0.0.1', destPort: 80 })
    expect(statusesOf(await rawExchange(portOf(trusted), [v1, requests], IDLE))).toEqual([200, 200])
    // No header from a trusted peer is fine too (a reverse proxy using X-Forwarded-For).
    expect(statusesOf(await rawExchange(portOf(trusted), requests, IDLE))).toEqual([200, 200])
    const clients = await until(
      () => trusted.logs.filter((l) => l['msg'] === 'request').map((l) => l['client']),
      (c) => c.length === 6,
    )
    expect(clients).toEqual(['203.0.113.7', '203.0.113.7', '198.51.100.9', '198.51.100.9', '127.0.0.1', '127.0.0.1'])
    expect(upstream.requests.find((r) => r.url === '/a')?.headers['x-forwarded-for']).toBe('203.0.113.7')
  })

  test('from anyone else the header is not believed', async () => {
    const v2 = proxyV2({ sourceAddress: '203.0.113.7', sourcePort: 5555, destAddress: '127.0.0.1', destPort: 80 })
    expect(statusesOf(await rawExchange(portOf(untrusted), [v2, requests], IDLE))).toEqual([400])
    expect(untrusted.logs.some((l) => l['client'] === '203.0.113.7')).toBe(false)
  })
})
