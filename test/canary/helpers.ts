/** Shared by the canary end-to-end tests: a two-pool canary config and a traffic driver. */
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'

export function canaryConfig(baselineUrl: string, candidateUrl: string, canary: Record<string, unknown>, route: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    pools: { v1: { backends: [baselineUrl] }, v2: { backends: [candidateUrl] } },
    routes: [
      {
        name: 'users',
        match: { path: '/' },
        split: [
          { pool: 'v1', weight: 100 },
          { pool: 'v2', weight: 0 },
        ],
        canary: { baseline: 'v1', candidate: 'v2', ...canary },
        ...route,
      },
    ],
  }
}

/**
 * Send requests (`concurrency` at a time) until `done()` holds, failing after `timeoutMs`.
 * Returns how many were sent.
 */
export async function drive(url: string, done: () => boolean, { concurrency = 8, timeoutMs = 10_000 } = {}): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let sent = 0
  let failed: Error | undefined
  const worker = async (): Promise<void> => {
    while (!done() && failed === undefined) {
      if (Date.now() > deadline) {
        failed = new Error(`traffic timed out after ${timeoutMs} ms (${sent} requests)`)
        return
      }
      sent++
      const res = await request(`${url}/api/users/${sent}`)
      await res.body.text()
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  if (failed !== undefined) throw failed
  return sent
}

export function canaryEvents(gw: StartedGateway): Record<string, unknown>[] {
  return gw.events
    .list()
    .filter((e) => e.type === 'canary')
    .map((e) => e.detail as Record<string, unknown>)
    .reverse()
}

export async function canaries(gw: StartedGateway): Promise<Record<string, unknown>[]> {
  return (await (await request(`${gw.adminUrl}/api/canaries`)).body.json()) as Record<string, unknown>[]
}

export async function splitOf(gw: StartedGateway): Promise<Record<string, number>> {
  const routes = (await (await request(`${gw.adminUrl}/api/routes`)).body.json()) as { split: { pool: string; weight: number }[] }[]
  return Object.fromEntries(routes[0]!.split.map((t) => [t.pool, t.weight]))
}

/**
 * A gateway whose canary starts warm: it serves the split without a canary first (connections
 * open, code compiled), then a reload adds the canary block. A cold start makes the first
 * requests of both cohorts slow, which a short test window would mistake for the p99.
 */
export async function startWarmCanary(config: Record<string, unknown>, warmup = 64): Promise<StartedGateway> {
  const routes = config['routes'] as Record<string, unknown>[]
  const plain = { ...config, routes: routes.map(({ canary: _c, ...r }) => ({ ...r, split: [{ pool: 'v1', weight: 1 }, { pool: 'v2', weight: 1 }] })) }
  const gw = await startGateway(plain)
  let n = 0
  await drive(gw.url, () => ++n > warmup, { concurrency: 16 })
  const result = await gw.reload(config)
  if (!result.ok) throw new Error(`reload refused: ${result.problems.join('; ')}`)
  return gw
}
