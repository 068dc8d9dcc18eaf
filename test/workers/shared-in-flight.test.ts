/**
 * Requests in flight per backend are one count for the process: with worker threads,
 * least-connections compares every worker's requests, and the main thread's /api/pools shows
 * them all.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { ServerResponse } from 'node:http'
import { request } from 'undici'
import { createSharedInFlightMemory, SharedInFlight } from '../../src/upstream/shared-in-flight.js'
import { createSupervisor, type Supervisor } from '../../src/workers/supervisor.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

let sup: Supervisor | undefined
let ups: TestUpstream[] = []
afterEach(async () => {
  await sup?.close()
  sup = undefined
  await Promise.all(ups.map((u) => u.close()))
  ups = []
})

describe('shared in-flight table', () => {
  it('gives every thread the same slot for a backend and one count; distinct backends do not share', () => {
    const memory = createSharedInFlightMemory(64)
    const a = new SharedInFlight(memory)
    const b = new SharedInFlight(memory)
    const slot = a.slotFor('p|http://10.0.0.1:80')
    expect(b.slotFor('p|http://10.0.0.1:80')).toBe(slot)
    const other = a.slotFor('p|http://10.0.0.2:80')
    expect(other).not.toBe(slot)
    a.add(slot, 1)
    b.add(slot, 1)
    expect(a.load(slot)).toBe(2)
    expect(b.load(other)).toBe(0)
    b.add(slot, -2)
    expect(a.load(slot)).toBe(0)
  })

  it('says -1 when the table is full (the backend keeps its thread-local count)', () => {
    const t = new SharedInFlight(createSharedInFlightMemory(4))
    for (let i = 0; i < 4; i++) expect(t.slotFor(`p|b${i}`)).toBeGreaterThanOrEqual(0)
    expect(t.slotFor('p|one-too-many')).toBe(-1)
  })
})

describe('least-connections over two worker threads', { timeout: 45_000 }, () => {
  it('balances the process’s in-flight requests, and the main thread sees them', async () => {
    const held: ServerResponse[] = []
    const hold = (name: string) => startUpstream(name, (_req, res) => void held.push(res.setHeader('x-upstream', name)))
    ups = [await hold('a'), await hold('b')]
    sup = await createSupervisor({
      document: {
        server: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        pools: { main: { backends: [ups[0]!.url, ups[1]!.url], algorithm: 'least-connections' } },
        routes: [{ name: 'all', match: { path: '/' }, pool: 'main' }],
      },
      count: 2,
    })
    await sup.listen()
    const answers: Promise<unknown>[] = []
    // One at a time, each on a connection of its own (spread over the workers by the kernel).
    for (let i = 0; i < 6; i++) {
      answers.push(request(`${sup.url}/x/${i}`, { headers: { connection: 'close' } }).then((r) => r.body.text()))
      await waitFor(() => held.length === i + 1, 10_000, 5, `request ${i} held upstream`)
    }
    expect(ups[0]!.requests.length).toBe(3)
    expect(ups[1]!.requests.length).toBe(3)
    const pools = (await (await request(`${sup.gateway.adminUrl}/api/pools`)).body.json()) as { backends: { activeRequests: number }[] }[]
    expect(pools[0]!.backends.map((b) => b.activeRequests)).toEqual([3, 3])
    for (const res of held) res.end('done')
    await Promise.all(answers)
    const workers = (await (await request(`${sup.gateway.adminUrl}/api/workers`)).body.json()) as { requests: number }[]
    expect(workers.reduce((n, w) => n + w.requests, 0)).toBe(6)
  })
})
