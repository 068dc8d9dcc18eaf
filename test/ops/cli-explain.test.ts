/**
 * `switchyard explain -c FILE METHOD URL [-H ...]`: the explain answer offline from a file,
 * through the CLI command registry (the same entry `switchyard` dispatches to).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from '../../src/cli.js'
import { cliCommands } from '../../src/cli-commands.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

let dir: string | undefined
let up: TestUpstream | undefined
afterEach(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
  await up?.close()
  up = undefined
})

function configFile(text: string): string {
  dir ??= mkdtempSync(join(tmpdir(), 'sy-explain-'))
  const f = join(dir, 'gateway.yaml')
  writeFileSync(f, text)
  return f
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []
  const err: string[] = []
  const command = cliCommands.explain
  expect(command, 'explain is registered in src/cli-commands.ts').toBeTypeOf('function')
  const code = await command!(parseArgs(argv), { out: (l) => out.push(l), err: (l) => err.push(l) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

const yaml = (backend: string): string => `
pools:
  web-v1:
    backends: [${backend}]
    healthCheck: { path: /health, interval: 50ms }
  web-v2:
    backends: [http://127.0.0.1:9]
routes:
  - name: static
    match: { pathExact: /favicon.ico }
    pool: web-v1
  - name: web
    match: { path: /shop, host: shop.example.com }
    rewritePrefix: /
    split:
      - { pool: web-v1, weight: 1 }
      - { pool: web-v2, weight: 1 }
    sticky: header:x-user
`

describe('switchyard explain (offline)', () => {
  it('prints the explain answer as JSON without contacting any backend', async () => {
    up = await startUpstream('web')
    const file = configFile(yaml(up.url))
    const { code, out } = await run(['explain', '-c', file, 'GET', 'http://shop.example.com/shop/./cart//items?x=1', '-H', 'x-user: u-42'])
    expect(code).toBe(0)
    const a = JSON.parse(out)
    expect(a.routes).toEqual([
      { name: 'static', index: 0, matched: false, reason: 'path /shop/cart/items is not /favicon.ico' },
      { name: 'web', index: 1, matched: true },
    ])
    expect(a.request).toMatchObject({ host: 'shop.example.com', path: '/shop/cart/items', query: 'x=1' })
    expect(a.upstreamPath).toBe('/cart/items')
    expect(a.split).toMatchObject({ reason: 'sticky', sticky: { source: 'header:x-user', key: 'u-42' } })
    expect(['web-v1', 'web-v2']).toContain(a.split.sticky.cohort)
    // Offline: every backend counts as healthy with a closed circuit.
    expect(a.pools[0].candidates[0]).toMatchObject({ healthy: true, circuit: 'closed', available: true })
    expect(a.outcome.action).toBe('forward')
    expect(up.requests).toEqual([])
  })

  it('the same key always gets the same cohort (CI can pin route tables)', async () => {
    const file = configFile(yaml('http://127.0.0.1:9'))
    const cohorts = new Set<string>()
    for (let i = 0; i < 3; i++) {
      const { out } = await run(['explain', '-c', file, 'GET', 'http://shop.example.com/shop', '-H', 'x-user: same'])
      cohorts.add(JSON.parse(out).split.sticky.cohort)
    }
    expect(cohorts.size).toBe(1)
  })

  it('explains a miss: each route with the reason it did not match', async () => {
    const file = configFile(yaml('http://127.0.0.1:9'))
    const { code, out } = await run(['explain', '-c', file, 'POST', 'http://other.example.com/shop'])
    expect(code).toBe(0)
    const a = JSON.parse(out)
    expect(a.outcome).toEqual({ action: 'reject', status: 404, message: 'no route matches POST /shop' })
    expect(a.routes[1]).toEqual({ name: 'web', index: 1, matched: false, reason: 'host other.example.com is not shop.example.com' })
  })

  it('takes a path-only URL with the Host from -H, and claims and client IP as options', async () => {
    const file = configFile(yaml('http://127.0.0.1:9'))
    const { code, out } = await run(['explain', '-c', file, 'GET', '/shop', '-H', 'Host: shop.example.com', '--ip=198.51.100.7', '--claims={"sub":"a"}'])
    expect(code).toBe(0)
    const a = JSON.parse(out)
    expect(a.route).toBe('web')
    expect(a.request.clientIp).toBe('198.51.100.7')
  })

  it('usage errors exit 2; an invalid file exits 1 with path: message lines', async () => {
    expect((await run(['explain', 'GET', '/x'])).code).toBe(2)
    const file = configFile(yaml('http://127.0.0.1:9'))
    expect((await run(['explain', '-c', file, 'GET'])).code).toBe(2)
    const badHeader = await run(['explain', '-c', file, 'GET', '/x', '-H', 'no-colon'])
    expect(badHeader.code).toBe(2)
    expect(badHeader.err).toContain("expected 'name: value'")
    expect((await run(['explain', '-c', file, 'GET', 'ftp://x/y'])).code).toBe(2)
    const bad = configFile('pools: {}\nroutes:\n  - { name: r, match: { path: / }, pool: nope }\n')
    const res = await run(['explain', '-c', bad, 'GET', '/'])
    expect(res.code).toBe(1)
    expect(res.err).toMatch(/^routes\[0\]\.pool: .*nope/m)
  })
})
