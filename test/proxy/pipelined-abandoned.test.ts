/**
 * Pipelined requests wait for the one in flight on their connection (src/data-plane/admission.ts).
 * When the client goes away, those still waiting are never started: nothing reaches the
 * upstream for them, each is recorded once (499), and nothing stays counted in flight.
 */
import { afterEach, describe, expect, it } from 'vitest'
import net from 'node:net'
import type http from 'node:http'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { scrape, valueOf } from '../metrics/scrape.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
})

describe('pipelined requests of a client that goes away', () => {
  it('are not started, are recorded once as 499, and leave nothing in flight', async () => {
    let release: (() => void) | undefined
    up = await startUpstream('held', (_req, res: http.ServerResponse) => {
      release ??= () => res.end('done')
    })
    gw = await startGateway(simpleConfig([up.url]))
    const port = Number(new URL(gw.url).port)
    const socket = net.connect(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.write('GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\n\r\nGET /three HTTP/1.1\r\nHost: a\r\n\r\n')
    await waitFor(() => release !== undefined, 5_000, 10, 'the first request upstream')
    socket.destroy()
    release!()
    const metrics = async (): Promise<string> => scrape(gw!.adminUrl!)
    // The first may have been answered (200) before the gateway saw the connection go; the two
    // waiting behind it cannot have been.
    await waitFor(async () => valueOf(await metrics(), 'switchyard_requests_total') === 3, 5_000, 20, 'three requests recorded')
    // Give a wrongly started request the time to reach the upstream.
    await new Promise((r) => setTimeout(r, 200))
    const text = await metrics()
    expect(valueOf(text, 'switchyard_requests_in_flight')).toBe(0)
    expect(valueOf(text, 'switchyard_requests_total')).toBe(3)
    expect(valueOf(text, 'switchyard_requests_total', { status: '499' })).toBeGreaterThanOrEqual(2)
    expect(up.requests.map((r) => r.url)).toEqual(['/one'])
  })
})
