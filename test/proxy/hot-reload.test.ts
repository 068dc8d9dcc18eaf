import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { captureLogger } from '../helpers/gateway.js'
import { createGateway, type Gateway } from '../../src/gateway.js'

let ups: TestUpstream[] = []
let gw: Gateway | undefined
let dir: string | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  gw = undefined
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

function yamlFor(pool: string, backend: string): string {
  return `server: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0 }
pools:
  ${pool}:
    backends: [${backend}]
routes:
  - name: all
    match: { path: / }
    pool: ${pool}
`
}

async function fileGateway(content: string): Promise<{ gw: Gateway; file: string }> {
  dir = mkdtempSync(join(tmpdir(), 'sy-reload-'))
  const file = join(dir, 'gateway.yaml')
  writeFileSync(file, content)
  const { logger } = captureLogger()
  const g = await createGateway(undefined, { configPath: file, logger, processMetrics: false })
  await g.listen()
  return { gw: g, file }
}

describe('hot reload', () => {
  it('swaps the configuration under load with no failed request', async () => {
    const a = await startUpstream('a')
    const b = await startUpstream('b')
    ups.push(a, b)
    const started = await fileGateway(yamlFor('pa', a.url))
    gw = started.gw
    const statuses: number[] = []
    const seen = new Set<string>()
    let stop = false
    const worker = async (): Promise<void> => {
      while (!stop) {
        const res = await request(`${gw!.url}/x`)
        statuses.push(res.statusCode)
        seen.add(String(res.headers['x-upstream']))
        await res.body.text()
      }
    }
    const workers = Array.from({ length: 8 }, worker)
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 40))
      writeFileSync(started.file, i % 2 === 0 ? yamlFor('pb', b.url) : yamlFor('pa', a.url))
      const result = await gw.reload()
      expect(result.ok).toBe(true)
    }
    await new Promise((r) => setTimeout(r, 40))
    stop = true
    await Promise.all(workers)
    expect(statuses.length).toBeGreaterThan(50)
    expect(statuses.filter((s) => s !== 200)).toEqual([])
    expect(seen).toEqual(new Set(['a', 'b']))
  })

  it('keeps the old configuration serving when the new file is invalid, and says why', async () => {
    const a = await startUpstream('a')
    ups.push(a)
    const started = await fileGateway(yamlFor('pa', a.url))
    gw = started.gw
    writeFileSync(started.file, yamlFor('pa', a.url).replace('pool: pa', 'pool: nope'))
    const res = await request(`${gw.adminUrl}/api/reload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(res.statusCode).toBe(400)
    const body = (await res.body.json()) as { errors: string[] }
    expect(body.errors.join('\n')).toContain('routes[0].pool')
    const still = await request(`${gw.url}/x`)
    expect(still.statusCode).toBe(200)
    expect(still.headers['x-upstream']).toBe('a')
    await still.body.text()
    expect(gw.state.version).toBe(1)
  })

  it('reports a route path the routing layer cannot compile as a problem, not a crash', async () => {
    const a = await startUpstream('a')
    ups.push(a)
    const started = await fileGateway(yamlFor('pa', a.url))
    gw = started.gw
    const result = await gw.reload({
      pools: { pa: { backends: [a.url] } },
      routes: [{ name: 'semi', match: { path: '/a;b' }, pool: 'pa' }],
    })
    expect(result.ok).toBe(false)
    expect(result.ok ? [] : result.problems.join('\n')).toMatch(/routes\[0\]/)
    const still = await request(`${gw.url}/x`)
    expect(still.statusCode).toBe(200)
    await still.body.text()
  })

  it('lets a request in flight finish on the configuration it started with', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => (release = r))
    const slow = await startUpstream('slow', async (_req, res) => {
      await gate
      res.end('old-config')
    })
    const b = await startUpstream('b')
    ups.push(slow, b)
    const started = await fileGateway(yamlFor('old', slow.url))
    gw = started.gw
    const inFlight = request(`${gw.url}/x`)
    await new Promise((r) => setTimeout(r, 50))
    writeFileSync(started.file, yamlFor('new', b.url))
    const ok = await fetch(`${gw.adminUrl}/api/reload`, { method: 'POST' })
    expect(await ok.json()).toMatchObject({ reloaded: true })
    const fresh = await request(`${gw.url}/x`)
    expect(fresh.headers['x-upstream']).toBe('b')
    await fresh.body.text()
    release()
    const res = await inFlight
    expect(res.statusCode).toBe(200)
    expect(await res.body.text()).toBe('old-config')
  })
})
