/**
 * state.file: backend states, weight overrides and split weights set through the admin API are
 * written to the file (atomically: no temporary file left behind) and applied again by the next
 * gateway started with it; what the new configuration no longer has is dropped and reported.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

let ups: TestUpstream[] = []
let gws: StartedGateway[] = []
let dir: string | undefined
afterEach(async () => {
  for (const g of gws) await g.close()
  await Promise.all(ups.map((u) => u.close()))
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  ups = []
  gws = []
  dir = undefined
})

type Json = Record<string, any>

async function call(gw: StartedGateway, method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const res = await request(`${gw.adminUrl}${path}`, {
    method: method as 'GET',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.statusCode, json: (await res.body.json()) as Json }
}

describe('state.file', () => {
  it('keeps backend states, weights and split weights across a restart', async () => {
    ups = await Promise.all(['a', 'b', 'c'].map((n) => startUpstream(n)))
    dir = mkdtempSync(join(tmpdir(), 'sy-state-'))
    const file = join(dir, 'runtime.json')
    const config = (backends: string[]) => ({
      state: { file },
      pools: { main: { backends }, canary: { backends: [ups[2]!.url] } },
      routes: [{ name: 'web', match: { path: '/' }, split: [{ pool: 'main', weight: 90 }, { pool: 'canary', weight: 10 }] }],
    })
    const first = await startGateway(config([ups[0]!.url, ups[1]!.url]))
    gws.push(first)
    expect((await call(first, 'PUT', `/api/pools/main/backends/${encodeURIComponent(ups[0]!.url)}`, { state: 'drain' })).status).toBe(200)
    expect((await call(first, 'PUT', `/api/pools/main/backends/${encodeURIComponent(ups[1]!.url)}`, { weight: 5 })).status).toBe(200)
    expect((await call(first, 'PUT', '/api/routes/web/split', { weights: { main: 50, canary: 50 } })).status).toBe(200)
    const saved = await waitFor(() => {
      try {
        const j = JSON.parse(readFileSync(file, 'utf8')) as Json
        return j.splits?.web !== undefined ? j : undefined
      } catch {
        return undefined
      }
    }, 3000, 20, 'the state file')
    expect(saved).toEqual({
      version: 1,
      splits: { web: { main: 50, canary: 50 } },
      backends: { main: { [ups[0]!.url]: { state: 'drain' }, [ups[1]!.url]: { state: 'enabled', weight: 5 } } },
    })
    await first.close()
    gws = []
    expect(readdirSync(dir)).toEqual(['runtime.json'])

    const second = await startGateway(config([ups[0]!.url, ups[1]!.url]))
    gws.push(second)
    const pools = (await call(second, 'GET', '/api/pools')).json
    expect(pools[0].backends).toMatchObject([
      { url: ups[0]!.url, state: 'drain' },
      { url: ups[1]!.url, state: 'enabled', weight: 5 },
    ])
    expect((await call(second, 'GET', '/api/routes')).json[0].split).toEqual([
      { pool: 'main', weight: 50 },
      { pool: 'canary', weight: 50 },
    ])
    const restored = second.logs.find((l) => l.action === 'state.restore')!
    expect(restored.splits).toEqual(saved!.splits)
    expect(restored.skipped).toBeUndefined()
    await second.close()
    gws = []

    // A configuration without the drained backend: that change is dropped, the rest applies.
    const third = await startGateway(config([ups[1]!.url]))
    gws.push(third)
    const restore = third.logs.find((l) => l.action === 'state.restore')!
    expect(restore.skipped).toEqual([`backend ${ups[0]!.url} of pool main: not configured here`])
    expect((await call(third, 'GET', '/api/pools')).json[0].backends).toMatchObject([{ url: ups[1]!.url, weight: 5 }])
    // ... and leaves the file.
    await waitFor(() => !readFileSync(file, 'utf8').includes(ups[0]!.url), 3000, 20, 'the dropped change out of the file')
  })
})
