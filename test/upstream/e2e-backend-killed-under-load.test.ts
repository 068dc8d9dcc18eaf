import { afterEach, describe, expect, it } from 'vitest'
import { Agent, request } from 'undici'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
let client: Agent | undefined
afterEach(async () => {
  await client?.close()
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  gw = undefined
  client = undefined
})

describe('a backend killed under concurrent GET load', () => {
  it('costs zero failed requests: in-flight and later requests are retried on the others', async () => {
    ups = await Promise.all(['a', 'b', 'c'].map((n) => startUpstream(n)))
    gw = await startGateway(simpleConfig(ups.map((u) => u.url)))
    client = new Agent({ connections: 32 })
    const statuses = new Map<number, number>()
    const served = new Map<string, number>()
    let total = 0
    let stop = false
    const worker = async (): Promise<void> => {
      while (!stop) {
        const res = await request(`${gw!.url}/items`, { dispatcher: client })
        await res.body.text()
        total++
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        const who = String(res.headers['x-upstream'])
        served.set(who, (served.get(who) ?? 0) + 1)
      }
    }
    const workers = Array.from({ length: 16 }, worker)
    await waitFor(() => total >= 200, 10_000, 10, 'warm-up traffic')
    expect(served.get('b')).toBeGreaterThan(30)
    const killedAt = total
    await ups[1]!.close() // destroys its open sockets too: in-flight requests are reset
    await waitFor(() => total >= killedAt + 300, 15_000, 10, 'traffic after the kill')
    stop = true
    await Promise.all(workers)
    expect([...statuses.keys()]).toEqual([200])
    // The circuit of the dead backend opened, so traffic settled on the two live ones.
    const pool = gw.pools.get('main')!
    const dead = pool.backends.find((b) => b.origin === ups[1]!.url)!
    expect(dead.breaker.state).toBe('open')
    expect(served.get('a')! + served.get('c')!).toBeGreaterThan(300)
  })
})
