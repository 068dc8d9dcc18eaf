import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  gw = undefined
})

async function circuitOf(url: string): Promise<string> {
  const pools = (await (await request(`${gw!.adminUrl}/api/pools`)).body.json()) as { backends: { url: string; circuit: string }[] }[]
  return pools[0]!.backends.find((b) => b.url === url)!.circuit
}

async function get(): Promise<string> {
  const res = await request(`${gw!.url}/x`)
  expect(res.statusCode).toBe(200) // failures on the flaky backend are retried on the steady one
  await res.body.dump()
  return String(res.headers['x-upstream'])
}

describe('circuit breaker over real traffic', () => {
  it('opens on consecutive 503s, half-opens after openDuration, closes on a good trial, reopens on a bad one', async () => {
    let failing = true
    const flaky = await startUpstream('flaky', (_req, res) => {
      res.writeHead(failing ? 503 : 200, { 'x-upstream': 'flaky' }).end()
    })
    ups = [flaky, await startUpstream('steady')]
    gw = await startGateway(
      simpleConfig(
        ups.map((u) => u.url),
        { pool: { circuitBreaker: { consecutiveFailures: 2, openDuration: '1200ms', halfOpenRequests: 1, maxEjectionPercent: 50 } } },
      ),
    )
    for (let i = 0; i < 4; i++) await get()
    expect(await circuitOf(flaky.url)).toBe('open')
    const hits = flaky.requests.length
    expect(hits).toBe(2)
    for (let i = 0; i < 4; i++) expect(await get()).toBe('steady') // ejected: not even tried

    // Half-open: one trial; it fails, so the circuit reopens.
    await waitFor(async () => (await circuitOf(flaky.url)) === 'half-open', 3000, 20, 'half-open')
    for (let i = 0; i < 2; i++) await get()
    expect(flaky.requests.length).toBe(hits + 1)
    expect(await circuitOf(flaky.url)).toBe('open')

    // Recovered: the next trial succeeds and closes the circuit.
    failing = false
    await waitFor(async () => (await circuitOf(flaky.url)) === 'half-open', 3000, 20, 'half-open again')
    const served = new Set<string>()
    for (let i = 0; i < 4; i++) served.add(await get())
    expect(served).toEqual(new Set(['flaky', 'steady']))
    expect(await circuitOf(flaky.url)).toBe('closed')
    const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text()
    expect(metrics).toContain(`switchyard_circuit_state{pool="main",backend="${flaky.url}"} 0`)
    expect(metrics).toMatch(/switchyard_upstream_events_total\{pool="main",event="ejection"\} 2/)
  })
})
