import { readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { parse } from 'yaml'
import { startDemoUpstreams, type RunningDemo } from '../../src/demo-upstreams.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { canaryEvents } from './helpers.js'

let gw: StartedGateway | undefined
let demo: RunningDemo | undefined
afterEach(async () => {
  await gw?.close()
  await demo?.close()
  gw = undefined
  demo = undefined
})

/** config/examples/progressive-delivery.yaml on the demo services, at free ports and a short interval. */
async function exampleOnDemo(): Promise<Record<string, unknown>> {
  demo = await startDemoUpstreams('127.0.0.1', [
    { name: 'users-v1-a', port: 0 },
    { name: 'users-v2-a', port: 0 },
  ])
  const [v1, v2] = demo.servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`)
  const text = await readFile(join(import.meta.dirname, '..', '..', 'config', 'examples', 'progressive-delivery.yaml'), 'utf8')
  const config = parse(text) as { pools: Record<string, { backends: string[] }>; routes: { canary: { interval: string } }[] }
  config.pools['users-v1']!.backends = [v1!]
  config.pools['users-v2']!.backends = [v2!]
  config.routes[0]!.canary.interval = '200ms'
  return { ...config, admin: {} }
}

async function send(n: number, headers: Record<string, string> = {}): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {}
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++
      const res = await request(`${gw!.url}/api/users/${i}`, { headers: { 'x-user-id': `user-${i}`, ...headers } })
      await res.body.text()
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
  return statuses
}

describe('the progressive-delivery walkthrough on the demo', () => {
  it('a failing users-v2 (x-demo-fail) is rolled back at its first step', async () => {
    gw = await startGateway(await exampleOnDemo())
    // users-v2 answers 503; the example gives it users-v1 as fallback, so clients may well see
    // 200s: v2's requests count as its errors all the same.
    await send(400, { 'x-demo-fail': 'users-v2' })
    for (let i = 0; i < 40 && canaryEvents(gw).at(-1)?.['state'] !== 'rolled-back'; i++) await send(20, { 'x-demo-fail': 'users-v2' })
    expect(canaryEvents(gw).at(-1)).toMatchObject({ action: 'rolled-back', gate: 'maxErrorRate', step: 1, weight: 0 })
    // Everyone is back on v1.
    expect(await send(50, { 'x-demo-fail': 'users-v2' })).toEqual({ 200: 50 })
  })
})
