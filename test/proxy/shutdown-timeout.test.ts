import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
})

describe('shutdownTimeout', () => {
  it('bounds the drain: a request that never finishes is cut off and close() resolves', async () => {
    up = await startUpstream('stuck', () => {
      /* never answers */
    })
    gw = await startGateway(simpleConfig([up.url], { top: { server: { shutdownTimeout: '300ms' } } }))
    const stuck = request(`${gw.url}/x`).then(
      (r) => r.statusCode,
      (e: Error) => e.name,
    )
    await waitFor(() => up!.requests.length === 1, 3_000, 10, 'request upstream')
    const t0 = Date.now()
    await gw.close()
    const elapsed = Date.now() - t0
    expect(elapsed).toBeGreaterThanOrEqual(250)
    expect(elapsed).toBeLessThan(3_000)
    // The client saw its connection end rather than hang forever.
    expect(await stuck).not.toBe(200)
  })
})
