/**
 * Fifteen reloads that change weights, add and remove backends and whole pools (with health
 * checks and breakers), with traffic between them, leave nothing behind: the process's active
 * handles (sockets, timers), its health-probe loops and the metric series come back to what the same configuration
 * had after its first load, and removed pools and backends have no series left.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
afterAll(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
})

const HC = { path: '/health', interval: '30ms', timeout: '200ms', healthyThreshold: 1, unhealthyThreshold: 2 }

/** Shape i: even shapes have the `extra` pool and a third main backend; weights change every time. */
function config(i: number): Record<string, unknown> {
  const pools: Record<string, unknown> = {
    main: {
      backends: [{ url: ups[0]!.url, weight: 1 + (i % 4) }, ...(i % 2 === 0 ? [ups[1]!.url, ups[2]!.url] : [ups[3]!.url])],
      healthCheck: HC,
      circuitBreaker: { consecutiveFailures: 5, openDuration: '1s' },
      retry: { attempts: 1, perTryTimeout: '1s' },
    },
  }
  if (i % 2 === 0) pools[`extra${i % 4}`] = { backends: [ups[4]!.url], healthCheck: HC }
  const routes: Record<string, unknown>[] = [{ name: 'main', match: { path: '/' }, pool: 'main' }]
  if (i % 2 === 0) routes.unshift({ name: `extra${i}`, match: { path: '/extra' }, pool: `extra${i % 4}`, cache: { ttl: '1s' } })
  return { pools, routes }
}

/** Health probes each upstream received over a window: a probe loop left running would add to it. */
async function probeRates(): Promise<{ counts: number[]; ms: number }> {
  const count = () => ups.map((u) => u.requests.filter((r) => r.url === '/health').length)
  const start = count()
  const t0 = performance.now()
  await new Promise((r) => setTimeout(r, 300))
  const ms = performance.now() - t0
  return { counts: count().map((n, i) => n - start[i]!), ms }
}

function handleCounts(): Record<string, number> {
  const out: Record<string, number> = {}
  for (const t of process.getActiveResourcesInfo()) out[t] = (out[t] ?? 0) + 1
  return out
}

async function traffic(): Promise<void> {
  for (let i = 0; i < 6; i++) {
    const r = await request(`${gw!.url}/${i % 2 === 0 ? 'extra' : 'x'}/${i}`)
    await r.body.dump()
  }
}

async function seriesCount(): Promise<{ total: number; text: string }> {
  const text = await (await request(`${gw!.adminUrl}/metrics`)).body.text()
  return { total: text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length, text }
}

describe('reloads', () => {
  it('leave no handles, timers or metric series behind over 15 reloads', async () => {
    ups = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((n) => startUpstream(n)))
    gw = await startGateway(config(0))
    await traffic()
    // The reference: shape 0 reloaded once, warmed up like every later round.
    expect((await gw.reload(config(2))).ok).toBe(true)
    await traffic()
    await new Promise((r) => setTimeout(r, 100))
    const before = handleCounts()
    const seriesBefore = await seriesCount()

    for (let i = 3; i <= 17; i++) {
      expect((await gw.reload(config(i))).ok).toBe(true)
      await traffic()
    }
    // Back to a shape like the reference (17 is odd; 18 is even).
    expect((await gw.reload(config(18))).ok).toBe(true)
    await traffic()
    // Retired backends close once their last request ended.
    const after = (await waitFor(
      () => {
        const now = handleCounts()
        const grown = Object.keys(now).filter((k) => now[k]! > (before[k] ?? 0) + 2)
        return grown.length === 0 ? now : undefined
      },
      3000,
      50,
      'handle counts back to the reference',
    ))!
    expect(after.Timeout ?? 0).toBeLessThanOrEqual((before.Timeout ?? 0) + 2)
    expect(after.TCPSocketWrap ?? 0).toBeLessThanOrEqual((before.TCPSocketWrap ?? 0) + 2)

    // No probe loop of a removed pool or backend still runs (the 30 ms interval would show it).
    // One loop per backend probes at most every 27 ms (30 ms − 10% jitter); two would double it.
    const probes = await probeRates()
    for (const i of [0, 1, 2, 4]) expect(probes.counts[i]!, `probes of ${ups[i]!.name}`).toBeLessThanOrEqual(Math.ceil(probes.ms / 27) + 1)
    expect(probes.counts[3]).toBe(0)

    const seriesAfter = await seriesCount()
    // Series of pools and backends no longer configured are gone.
    expect(seriesAfter.text).not.toMatch(/pool="extra(0|1|3)"/)
    expect(seriesAfter.text).not.toContain(`backend="${ups[3]!.url}"`)
    expect(seriesAfter.total).toBeLessThanOrEqual(seriesBefore.total + 5)
  }, 20_000)
})
