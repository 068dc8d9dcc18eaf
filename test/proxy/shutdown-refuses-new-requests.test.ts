/**
 * A closing data listener still reads requests on connections it had open: each new one is
 * answered 503 in the JSON shape with `Connection: close` (so the client reconnects elsewhere),
 * while the request in flight finishes normally.
 */
import { afterEach, describe, expect, it } from 'vitest'
import net from 'node:net'
import type http from 'node:http'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { statusesOf } from '../helpers/raw-http.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
})

describe('a closing listener', () => {
  it('answers a new request on an open connection 503 with Connection: close; the one in flight completes', async () => {
    let release: (() => void) | undefined
    up = await startUpstream('held', (_req, res: http.ServerResponse) => {
      release = () => res.end('done')
    })
    gw = await startGateway(simpleConfig([up.url], { top: { server: { shutdownDelay: 0 } } }))
    const port = Number(new URL(gw.url).port)
    const socket = net.connect(port, '127.0.0.1')
    let received = ''
    socket.on('data', (d) => (received += d.toString('latin1')))
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    socket.write('GET /first HTTP/1.1\r\nHost: a\r\n\r\n')
    await waitFor(() => release !== undefined, 5_000, 10, 'the first request upstream')
    const closed = gw.close()
    await waitFor(() => gw!.serving === false, 5_000, 10, 'the gateway to begin closing')
    socket.write('GET /second HTTP/1.1\r\nHost: a\r\n\r\n')
    release!()
    await ended
    await closed
    expect(statusesOf(received)).toEqual([200, 503])
    const second = received.slice(received.indexOf('HTTP/1.1 503'))
    expect(second.toLowerCase()).toContain('connection: close')
    expect(second).toContain('"code":"SWITCHYARD_UNAVAILABLE"')
    expect(up.requests.map((r) => r.url)).toEqual(['/first'])
  })
})
