import { afterEach, describe, expect, it } from 'vitest'
import net from 'node:net'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { scrape, valueOf } from '../metrics/scrape.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
})

describe('a client that goes away', () => {
  it('aborts the upstream request, frees the backend slot, and is not the backend failure', async () => {
    let upstreamSawClose = false
    up = await startUpstream('slow', (req, res) => {
      req.socket.once('close', () => (upstreamSawClose = true))
      // Never answers: only the client leaving can end this exchange.
      void res
    })
    gw = await startGateway(simpleConfig([up.url], { pool: { circuitBreaker: { consecutiveFailures: 1, openDuration: '30s' } } }))
    const port = Number(new URL(gw.url).port)
    const s = net.connect(port, '127.0.0.1', () => s.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\n'))
    s.on('error', () => {})
    const backend = gw.pools.get('main')!.backends[0]!
    await waitFor(() => backend.activeRequests === 1, 5_000, 10, 'the request to reach the backend')
    s.destroy()
    await waitFor(() => backend.activeRequests === 0, 5_000, 10, 'the lease to end')
    await waitFor(() => upstreamSawClose, 5_000, 10, 'the upstream request to be aborted')
    // A cancel, not a failure: the breaker (1 failure opens it) stays closed.
    expect(backend.breaker.state).toBe('closed')
    // Recorded as NGINX records it: status 499, code SWITCHYARD_CLIENT_CLOSED, no longer in flight.
    await waitFor(async () => valueOf(await scrape(gw!.adminUrl!), 'switchyard_requests_total', { route: 'all', status: '499' }) === 1, 5_000, 20, 'the 499 to be counted')
    const text = await scrape(gw.adminUrl!)
    expect(valueOf(text, 'switchyard_errors_total', { code: 'SWITCHYARD_CLIENT_CLOSED' })).toBe(1)
    expect(valueOf(text, 'switchyard_requests_in_flight')).toBe(0)
  })
})
