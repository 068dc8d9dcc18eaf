/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): a request the gateway will refuse gets its final
 * status and never `100 Continue` first (Node used to send the 100 before any check ran, so a
 * client declaring a body over the limit was invited to send it, then got 413).
 */
import { afterEach, describe, expect, it } from 'vitest'
import net from 'node:net'
import { rawExchange, statusesOf } from '../helpers/raw-http.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
  gw = undefined
  up = undefined
})

const port = (): number => Number(new URL(gw!.url).port)

describe('Expect: 100-continue', () => {
  it('a declared Content-Length over bodyLimit gets 413 without 100 Continue, and nothing is forwarded', async () => {
    up = await startUpstream('a')
    gw = await startGateway(simpleConfig([up.url], { top: { server: { bodyLimit: '1kb' } } }))
    const answer = await rawExchange(port(), 'POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n')
    expect(answer).not.toContain('100 Continue')
    expect(statusesOf(answer)).toEqual([413])
    expect(up.requests).toHaveLength(0)
  })

  it('a request refused by the route (JWT) gets 401 without 100 Continue', async () => {
    up = await startUpstream('a')
    gw = await startGateway({
      jwt: { algorithms: ['HS256'], secret: 'a-test-secret-that-is-long-enough-000' },
      pools: { main: { backends: [up.url] } },
      routes: [{ name: 'all', match: { path: '/' }, pool: 'main', jwt: true }],
    })
    const answer = await rawExchange(port(), 'POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n')
    expect(answer).not.toContain('100 Continue')
    expect(statusesOf(answer)).toEqual([401])
    expect(up.requests).toHaveLength(0)
  })

  it('an acceptable request gets 100 Continue, then its body is forwarded', async () => {
    up = await startUpstream('a')
    gw = await startGateway(simpleConfig([up.url]))
    const s = net.connect(port(), '127.0.0.1')
    let out = ''
    s.on('data', (d) => (out += d.toString('latin1')))
    s.on('error', () => {})
    await new Promise<void>((r) => s.once('connect', () => r()))
    s.write('POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n')
    await waitFor(() => out.includes('100 Continue'), 3000, 5, '100 Continue')
    expect(up.requests).toHaveLength(0)
    s.write('hello')
    await waitFor(() => statusesOf(out).includes(200), 3000, 5, 'the final answer')
    s.destroy()
    expect(statusesOf(out)).toEqual([100, 200])
    expect(up.requests[0]!.body.toString()).toBe('hello')
    expect(up.requests[0]!.headers.expect).toBeUndefined()
  })
})
