/**
 * A fleet of two gateway processes (`switchyard start`) reading their configuration from one
 * real etcd (`configSource.etcd`): a pushed configuration is served by both, an invalid one is
 * refused by both while the old one keeps serving, a runtime weight changed through instance A's
 * admin API is applied by instance B, and losing etcd never stops traffic.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { request } from 'undici'
import { EtcdSource } from '../../src/config-source/etcd-source.js'
import { etcdAvailable, startEtcd, type TestEtcd } from '../helpers/etcd.js'
import { freePort, startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

const root = resolve(import.meta.dirname, '../..')
const run = etcdAvailable()
const KEY = '/switchyard/config'

let etcd: TestEtcd
let ups: TestUpstream[] = []
let dir: string
const children: ChildProcess[] = []

interface Instance {
  readonly url: string
  readonly admin: string
  readonly child: ChildProcess
  output(): string
}

function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolveRun) => {
    const c = spawn(process.execPath, [join(root, 'bin/switchyard.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    c.stdout!.on('data', (d) => (out += d))
    c.stderr!.on('data', (d) => (out += d))
    c.once('exit', (code) => resolveRun({ code, out }))
  })
}

async function startInstance(name: string): Promise<Instance> {
  const port = await freePort()
  const adminPort = await freePort()
  const local = join(dir, `${name}.yaml`)
  writeFileSync(
    local,
    `server: { host: 127.0.0.1, port: ${port} }\n` +
      `admin: { host: 127.0.0.1, port: ${adminPort} }\n` +
      `log: { level: info, access: false }\n` +
      `configSource: { etcd: { endpoints: ["${etcd.url}"], key: ${KEY}, dialTimeout: 1s } }\n`,
  )
  const child = spawn(process.execPath, [join(root, 'bin/switchyard.js'), 'start', '-c', local], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  const inst = { url: `http://127.0.0.1:${port}`, admin: `http://127.0.0.1:${adminPort}`, child, output: () => out }
  await waitFor(() => out.includes('switchyard listening') || child.exitCode !== null, 10_000, 25, `${name} start`)
  if (child.exitCode !== null) throw new Error(`${name} exited: ${out}`)
  return inst
}

async function upstreamOf(url: string): Promise<string> {
  const res = await request(`${url}/svc/x`)
  await res.body.text()
  return `${res.statusCode} ${res.headers['x-upstream'] ?? '-'}`
}

function shared(pool: 'a' | 'b'): string {
  return (
    `pools:\n  a: { backends: [${ups[0]!.url}] }\n  b: { backends: [${ups[1]!.url}] }\n` +
    `routes:\n  - { name: svc, match: { path: /svc }, pool: ${pool} }\n` +
    `  - name: split\n    match: { path: /split }\n    split: [{ pool: a, weight: 100 }, { pool: b, weight: 0 }]\n`
  )
}

async function push(text: string): Promise<{ code: number | null; out: string }> {
  const file = join(dir, `push-${Date.now()}-${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(file, text)
  return cli(['config', 'push', '-c', file, '--etcd', etcd.url, '--key', KEY])
}

describe.runIf(run)('a fleet configured from etcd', { timeout: 45_000 }, () => {
  beforeAll(async () => {
    expect(existsSync(join(root, 'dist/src/cli.js')), 'dist/ missing: npm test builds it (pretest)').toBe(true)
    etcd = await startEtcd()
    ups = [await startUpstream('a'), await startUpstream('b')]
  })
  afterAll(async () => {
    await Promise.all(ups.map((u) => u.close()))
    await etcd?.stop()
  })
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sy-fleet-'))
  })
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.exitCode !== null) continue
      await new Promise<void>((r) => {
        c.once('exit', () => r())
        c.kill('SIGKILL')
      })
    }
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('serves a pushed configuration on both instances and follows a new push on both', async () => {
    const pushed = await push(`# the shared part\n${shared('a')}`)
    expect(pushed).toMatchObject({ code: 0 })
    expect(pushed.out).toContain(`published`)
    const got = await cli(['config', 'get', '--etcd', etcd.url, '--key', KEY])
    expect(got.code).toBe(0)
    expect(got.out).toContain('# the shared part')

    const [a, b] = [await startInstance('a'), await startInstance('b')]
    expect(await upstreamOf(a.url)).toBe('200 a')
    expect(await upstreamOf(b.url)).toBe('200 a')

    expect((await push(shared('b'))).code).toBe(0)
    await waitFor(async () => (await upstreamOf(a.url)) === '200 b' && (await upstreamOf(b.url)) === '200 b', 5_000, 50, 'both instances on the new configuration')
  })

  it('never publishes an invalid file; an invalid value written to the key is refused by both, which keep serving', async () => {
    expect((await push(shared('a'))).code).toBe(0)
    const [a, b] = [await startInstance('a'), await startInstance('b')]
    expect(await upstreamOf(a.url)).toBe('200 a')

    const refused = await push(shared('a').replace('pool: a }', 'pool: nowhere }'))
    expect(refused.code).toBe(1)
    expect(refused.out).toContain('routes[0].pool')
    expect(refused.out).toContain('not published')

    // Written behind the CLI's back (etcdctl, another tool): each instance refuses it itself.
    const direct = new EtcdSource({ endpoints: [etcd.url], key: KEY, runtimeKey: `${KEY}/runtime`, dialTimeout: 2000 })
    await direct.writeConfig(shared('b').replace('pool: b }', 'pool: nowhere }'))
    await direct.close()
    for (const i of [a, b]) {
      await waitFor(
        async () => (await (await request(`${i.admin}/metrics`)).body.text()).includes('switchyard_config_reloads_total{result="rejected"} 1'),
        5_000,
        50,
        'the rejected reload',
      )
      expect(await upstreamOf(i.url)).toBe('200 a')
    }
  })

  it('applies a split weight changed through instance A on instance B', async () => {
    expect((await push(shared('a'))).code).toBe(0)
    const [a, b] = [await startInstance('a'), await startInstance('b')]
    const ask = async (url: string) => {
      const res = await request(`${url}/split`)
      await res.body.text()
      return res.headers['x-upstream']
    }
    expect(await ask(b.url)).toBe('a')
    const put = await request(`${a.admin}/api/routes/split/split`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ weights: { a: 0, b: 5 } }) })
    expect(put.statusCode).toBe(200)
    await put.body.text()
    expect(await ask(a.url)).toBe('b')
    await waitFor(async () => (await ask(b.url)) === 'b', 3_000, 25, 'instance B applying A’s weights')
    const routes = (await (await request(`${b.admin}/api/routes`)).body.json()) as { name: string; split: unknown }[]
    expect(routes.find((r) => r.name === 'split')!.split).toEqual([
      { pool: 'a', weight: 0 },
      { pool: 'b', weight: 5 },
    ])
  })

  it('keeps serving when etcd is lost, reports it in the deep health check, and catches up when it is back', async () => {
    expect((await push(shared('a'))).code).toBe(0)
    const a = await startInstance('a')
    const deep = await request(`${a.admin}/health?deep=1`)
    expect(deep.statusCode).toBe(200)
    expect(await deep.body.json()).toMatchObject({ status: 'ok', checks: { pools: { ok: true }, etcd: { ok: true } } })

    await etcd.kill()
    for (let i = 0; i < 20; i++) expect(await upstreamOf(a.url)).toBe('200 a')
    const down = await request(`${a.admin}/health?deep=1`)
    expect(down.statusCode).toBe(503)
    expect(await down.body.json()).toMatchObject({ status: 'degraded', checks: { etcd: { ok: false } } })

    await etcd.start()
    expect((await push(shared('b'))).code).toBe(0)
    await waitFor(async () => (await upstreamOf(a.url)) === '200 b', 20_000, 100, 'the change made after etcd came back')
  })

  it('refuses to start with one line when the key holds nothing', async () => {
    const local = join(dir, 'empty.yaml')
    writeFileSync(local, `server: { host: 127.0.0.1, port: ${await freePort()} }\nadmin: false\nconfigSource: { etcd: { endpoints: ["${etcd.url}"], key: /switchyard/nothing-here } }\n`)
    const r = await cli(['start', '-c', local])
    expect(r.code).toBe(1)
    expect(r.out.trim().split('\n')).toEqual(['etcd:/switchyard/nothing-here: no configuration at this key (publish one with `switchyard config push`)'])
  })
})
