import { afterEach, describe, expect, it } from 'vitest'
import { createPoolRegistry, type UpstreamPoolRegistry } from '../../src/upstream/index.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { ctx, pick, poolSettings } from './helpers.js'

let upstreams: TestUpstream[] = []
let registry: UpstreamPoolRegistry | undefined

afterEach(async () => {
  await registry?.close()
  registry = undefined
  await Promise.all(upstreams.map((u) => u.close()))
  upstreams = []
})

function reporting(name: string, load: () => number | string) {
  return startUpstream(name, (req, res) => {
    if (req.url !== '/health') return void res.writeHead(200, { 'x-upstream': name }).end()
    const v = load()
    res.writeHead(200, { 'content-type': 'application/json' }).end(typeof v === 'string' ? v : JSON.stringify({ status: 'ok', load: v }))
  })
}

describe('resource-based pools over real health checks', () => {
  it('read {"load"} from the health JSON and send traffic to spare capacity', async () => {
    let loadA = 0.9
    let loadB = 0.1
    upstreams = [await reporting('a', () => loadA), await reporting('b', () => loadB)]
    registry = createPoolRegistry([
      poolSettings({
        name: 'api',
        algorithm: 'resource-based',
        backends: upstreams.map((u) => ({ url: u.url, weight: 1 })),
        healthCheck: { path: '/health', interval: 250, timeout: 1000, healthyThreshold: 1, unhealthyThreshold: 1, expectStatus: [[200, 299]] },
      }),
    ])
    const pool = registry.get('api')!
    const [a, b] = pool.backends
    registry.start()
    await waitFor(() => a!.load?.value === 0.9 && b!.load?.value === 0.1, 2000, 10, 'load reports')
    const share = (x: unknown): number => {
      // Quick enough that the reports (stale after 3 intervals) stay fresh while we sample.
      let n = 0
      for (let i = 0; i < 2000; i++) if (pick(pool.candidates(ctx())) === x) n++
      return n / 2000
    }
    expect(share(b)).toBeGreaterThan(0.85) // 0.9 / (0.9 + 0.1) = 90% (±5 points)
    loadA = 0.2
    loadB = 0.8
    await waitFor(() => a!.load?.value === 0.2 && b!.load?.value === 0.8, 2000, 10, 'new reports')
    expect(share(a)).toBeGreaterThan(0.75) // 80% (±5 points)
  })

  it('clamp reports into 0..1 and ignore bodies that are not JSON', async () => {
    let body: number | string = 7
    upstreams = [await reporting('a', () => body)]
    registry = createPoolRegistry([
      poolSettings({
        name: 'api',
        algorithm: 'resource-based',
        backends: [{ url: upstreams[0]!.url, weight: 1 }],
        healthCheck: { path: '/health', interval: 40, timeout: 500, healthyThreshold: 1, unhealthyThreshold: 1, expectStatus: [[200, 299]] },
      }),
    ])
    const a = registry.get('api')!.backends[0]!
    registry.start()
    await waitFor(() => a.load?.value === 1, 2000, 10, 'clamped report')
    body = 'not json'
    const at = a.load!.at
    await waitFor(() => upstreams[0]!.requests.length >= 4, 2000, 10, 'more probes')
    expect(a.load!.at).toBe(at) // no new report from a non-JSON body
    expect(a.healthy).toBe(true) // but the check itself passed
  })
})
