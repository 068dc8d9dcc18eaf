import { afterEach, describe, expect, it } from 'vitest'
import { createPoolRegistry, type UpstreamPoolRegistry } from '../../src/upstream/index.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { poolSettings } from './helpers.js'

let upstream: TestUpstream | undefined
let registry: UpstreamPoolRegistry | undefined

afterEach(async () => {
  await registry?.close()
  registry = undefined
  await upstream?.close()
  upstream = undefined
})

describe('health probes', () => {
  it('never overlap on one backend, even when the health endpoint is slower than the interval', async () => {
    let concurrent = 0
    let maxConcurrent = 0
    let answered = 0
    upstream = await startUpstream('slow-health', (_req, res) => {
      concurrent++
      maxConcurrent = Math.max(maxConcurrent, concurrent)
      setTimeout(() => {
        concurrent--
        answered++
        res.writeHead(200).end('ok')
      }, 120)
    })
    registry = createPoolRegistry([
      poolSettings({
        name: 'api',
        backends: [{ url: upstream.url, weight: 1 }],
        healthCheck: { path: '/health', interval: 30, timeout: 1000, healthyThreshold: 1, unhealthyThreshold: 1, expectStatus: [[200, 299]] },
      }),
    ])
    registry.start()
    await waitFor(() => answered >= 4, 3000, 10, 'four slow probes')
    expect(maxConcurrent).toBe(1)
    expect(registry.get('api')!.backends[0]!.healthy).toBe(true)
  })

  for (const [label, jitter, floor] of [
    ['-10%', 0, 45],
    ['+10%', 0.999, 55],
  ] as const) {
    it(`space probe starts by the interval with jitter (${label} at the extreme)`, async () => {
      const times: number[] = []
      upstream = await startUpstream('timed', (_req, res) => {
        times.push(performance.now())
        res.writeHead(200).end('ok')
      })
      registry = createPoolRegistry(
        [
          poolSettings({
            name: 'api',
            backends: [{ url: upstream.url, weight: 1 }],
            healthCheck: { path: '/health', interval: 50, timeout: 1000, healthyThreshold: 1, unhealthyThreshold: 1, expectStatus: [[200, 299]] },
          }),
        ],
        { random: () => jitter },
      )
      registry.start()
      await waitFor(() => times.length >= 7, 5000, 10, 'seven probes')
      // Skip the first probe (it also connected). Timers fire late on a busy machine, never
      // early, so only the lower bound is tight (2ms of slack for arrival-time noise).
      const later = times.slice(1)
      const mean = (later.at(-1)! - later[0]!) / (later.length - 1)
      expect(mean).toBeGreaterThanOrEqual(floor - 2)
    })
  }
})
