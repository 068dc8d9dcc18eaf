/**
 * `basicAuth` over real sockets: 401 JSON with `WWW-Authenticate: Basic realm=…` without or with
 * wrong credentials (never forwarded), good credentials forwarded without the password, the
 * verified-credentials cache (one slow hash for repeated good credentials, none saved for bad
 * ones), bad hashes refused by the configuration, and `switchyard hash-password`.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { hashPasswordCommand } from '../../src/auth/hash-password-cli.js'
import { hashPassword, parsePasswordHash, verifyPassword } from '../../src/auth/password.js'
import { compileProblems } from '../../src/check.js'
import { normalizeConfig } from '../../src/config/index.js'
import { createBasicAuthFeature, MAX_PENDING_VERIFICATIONS } from '../../src/policies/basic-auth.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

// A cheaper cost than the CLI's default keeps the test fast; the format and code path are the same.
const CHEAP = { ln: 10, r: 8, p: 1 }
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`

async function setup(): Promise<{ gw: StartedGateway; up: TestUpstream }> {
  const up = await startUpstream('up')
  cleanups.push(() => up.close())
  const gw = await startGateway({
    pools: { main: { backends: [up.url] } },
    routes: [{ name: 'ops', match: { path: '/ops' }, pool: 'main', basicAuth: { realm: 'ops', users: [{ name: 'alice', hash: await hashPassword('wonder land', CHEAP) }] } }],
  })
  cleanups.push(() => gw.close())
  return { gw, up }
}

describe('basic auth', () => {
  it('refuses missing or wrong credentials with 401, a JSON body and the Basic challenge; never forwards them', async () => {
    const { gw, up } = await setup()
    const none = await fetch(`${gw.url}/ops`)
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="ops", charset="UTF-8"')
    expect(await none.json()).toMatchObject({ statusCode: 401, error: 'Unauthorized', message: 'valid credentials are required' })
    expect((await fetch(`${gw.url}/ops`, { headers: { authorization: basic('alice', 'wrong') } })).status).toBe(401)
    expect((await fetch(`${gw.url}/ops`, { headers: { authorization: basic('mallory', 'wonder land') } })).status).toBe(401)
    expect((await fetch(`${gw.url}/ops`, { headers: { authorization: 'Basic !!!' } })).status).toBe(401)
    expect((await fetch(`${gw.url}/ops`, { headers: { authorization: 'Bearer abc' } })).status).toBe(401)
    expect(up.requests).toHaveLength(0)
  })

  it('forwards good credentials without the Authorization header and logs the user', async () => {
    const { gw, up } = await setup()
    const res = await fetch(`${gw.url}/ops/x`, { headers: { authorization: basic('alice', 'wonder land') } })
    expect(res.status).toBe(200)
    expect(up.requests[0]!.headers.authorization).toBeUndefined()
    const again = await fetch(`${gw.url}/ops/x`, { headers: { authorization: 'basic ' + Buffer.from('alice:wonder land').toString('base64') } })
    expect(again.status).toBe(200)
  })
})

describe('verified-credentials cache', () => {
  it('costs one slow hash for repeated good credentials, and one per attempt for bad ones', async () => {
    let verifications = 0
    const feature = createBasicAuthFeature({ onVerify: () => verifications++ })
    const settings = normalizeConfig({
      pools: { p: { backends: ['http://127.0.0.1:9'] } },
      routes: [{ name: 'ops', pool: 'p', basicAuth: { users: [{ name: 'alice', hash: await hashPassword('pw', CHEAP) }] } }],
    })
    const prepared = await feature.prepare!(settings, undefined)
    const { compileRouteTable } = await import('../../src/routing/route-table.js')
    const route = compileRouteTable(settings.routes).routes[0]!
    const run = prepared.compileRoute!(route)!.stage!.run
    const ctx = () => ({ responseHeaders: undefined, consumer: undefined }) as never as import('../../src/request-context.js').RequestContext
    const req = (authorization: string) => ({ method: 'GET', url: '/', headers: { authorization }, raw: {} }) as never
    const good = basic('alice', 'pw')
    for (let i = 0; i < 5; i++) {
      const c = ctx()
      await run(req(good), c)
      expect(c.consumer).toBe('alice')
    }
    expect(verifications).toBe(1)
    for (let i = 0; i < 3; i++) await expect(Promise.resolve().then(() => run(req(basic('alice', 'bad')), ctx()))).rejects.toMatchObject({ statusCode: 401 })
    expect(verifications).toBe(4)
  })
})

describe('bounded verification work', () => {
  it('refuses at once past MAX_PENDING_VERIFICATIONS slow hashes in flight, still accepting remembered credentials', async () => {
    const feature = createBasicAuthFeature()
    const settings = normalizeConfig({
      pools: { p: { backends: ['http://127.0.0.1:9'] } },
      routes: [{ name: 'ops', pool: 'p', basicAuth: { users: [{ name: 'alice', hash: await hashPassword('pw', CHEAP) }] } }],
    })
    const prepared = await feature.prepare!(settings, undefined)
    const { compileRouteTable } = await import('../../src/routing/route-table.js')
    const run = prepared.compileRoute!(compileRouteTable(settings.routes).routes[0]!)!.stage!.run
    const ctx = () => ({ responseHeaders: undefined, consumer: undefined }) as never as import('../../src/request-context.js').RequestContext
    const req = (authorization: string) => ({ method: 'GET', url: '/', headers: { authorization }, raw: {} }) as never
    await run(req(basic('alice', 'pw')), ctx()) // remembered from now on
    const flood = Array.from({ length: MAX_PENDING_VERIFICATIONS + 5 }, (_, i) => {
      try {
        return Promise.resolve(run(req(basic('alice', `guess-${i}`)), ctx())).then(() => 'ok', () => 'refused')
      } catch {
        return Promise.resolve('refused at once')
      }
    })
    const good = ctx()
    await run(req(basic('alice', 'pw')), good) // synchronous: no slow hash, not blocked by the flood
    expect(good.consumer).toBe('alice')
    const outcomes = await Promise.all(flood)
    expect(outcomes.filter((o) => o === 'refused at once')).toHaveLength(5)
    expect(outcomes.filter((o) => o === 'refused')).toHaveLength(MAX_PENDING_VERIFICATIONS)
  })
})

describe('password hashes', () => {
  it('hash-password prints a salted scrypt hash that verifies, and differs each time', async () => {
    const out: string[] = []
    const io = { out: (l: string) => out.push(l), err: () => {} }
    expect(await hashPasswordCommand(async () => 'correct horse\n')({ command: 'hash-password', config: undefined, headers: [], positional: [] }, io)).toBe(0)
    expect(await hashPasswordCommand(async () => 'correct horse')({ command: 'hash-password', config: undefined, headers: [], positional: [] }, io)).toBe(0)
    expect(out[0]).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
    expect(out[0]).not.toBe(out[1])
    const parsed = parsePasswordHash(out[0]!)
    if (typeof parsed === 'string') throw new Error(parsed)
    expect(await verifyPassword('correct horse', parsed)).toBe(true)
    expect(await verifyPassword('correct horsf', parsed)).toBe(false)
    const errs: string[] = []
    expect(await hashPasswordCommand(async () => '')({ command: 'hash-password', config: undefined, headers: [], positional: [] }, { out: () => {}, err: (l) => errs.push(l) })).toBe(2)
    expect(errs[0]).toMatch(/no password/)
  })

  it('`switchyard hash-password` reads standard input and prints the hash', () => {
    const root = resolve(import.meta.dirname, '../..')
    expect(existsSync(join(root, 'dist/src/cli.js')), 'dist/ missing: npm test builds it (pretest)').toBe(true)
    const r = spawnSync(process.execPath, [join(root, 'bin/switchyard.js'), 'hash-password'], { input: 's3cret\n', encoding: 'utf8' })
    expect(r.status).toBe(0)
    expect(r.stdout.trim()).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/)
    expect(r.stdout).not.toContain('s3cret')
    // The password never comes as an argument; --help prints and runs nothing.
    const arg = spawnSync(process.execPath, [join(root, 'bin/switchyard.js'), 'hash-password', '--password', 'x'], { input: '', encoding: 'utf8' })
    expect(arg.status).toBe(2)
    const help = spawnSync(process.execPath, [join(root, 'bin/switchyard.js'), 'hash-password', '--help'], { encoding: 'utf8' })
    expect(help.status).toBe(0)
    expect(help.stdout).toMatch(/^usage: switchyard hash-password/)
  })

  it('check and start refuse a hash that is not one, naming its path', async () => {
    const settings = normalizeConfig({ pools: { p: { backends: ['http://127.0.0.1:9'] } }, routes: [{ name: 'ops', pool: 'p', basicAuth: { users: [{ name: 'bob', hash: 'secret' }] } }] })
    expect(compileProblems(settings)).toEqual([{ path: 'routes[0].basicAuth.users[0].hash', message: expect.stringMatching(/hash-password/) }])
    await expect(startGateway({ pools: { p: { backends: ['http://127.0.0.1:9'] } }, routes: [{ name: 'ops', pool: 'p', basicAuth: { users: [{ name: 'bob', hash: 'secret' }] } }] })).rejects.toThrow(/routes\[0\]\.basicAuth\.users\[0\]\.hash/)
  })
})
