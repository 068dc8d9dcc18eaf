import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { describe, expect, test } from 'vitest'
import { checkConfigFile, loadConfigFile } from '../../src/config/index.js'

const CONFIG_DIR = join(import.meta.dirname, '..', '..', 'config')

async function configFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  const files: string[] = []
  for (const entry of entries) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) files.push(...(await configFiles(path)))
    else if (/\.(ya?ml|json)$/.test(entry.name) && entry.name !== 'gateway.schema.json') files.push(path)
  }
  return files.sort()
}

const files = await configFiles(CONFIG_DIR)

describe('every file in config/ passes check', () => {
  test('config/ holds the demo and the examples', () => {
    const names = files.map((f) => relative(CONFIG_DIR, f))
    expect(names).toContain('gateway.yaml')
    expect(names.filter((n) => n.startsWith('examples/')).length).toBeGreaterThanOrEqual(2)
  })

  test.each(files.map((f) => [relative(CONFIG_DIR, f), f]))('%s passes check with an empty environment', async (_name, file) => {
    expect(await checkConfigFile(file, {})).toEqual({ ok: true })
  })

  test.each(files.filter((f) => /\.ya?ml$/.test(f)).map((f) => [relative(CONFIG_DIR, f), f]))(
    '%s points editors at the published schema on its first line',
    async (_name, file) => {
      const first = (await readFile(file, 'utf8')).split('\n')[0]
      const schema = relative(join(file, '..'), join(CONFIG_DIR, 'gateway.schema.json'))
      expect(first).toBe(`# yaml-language-server: $schema=${schema.startsWith('.') ? schema : `./${schema}`}`)
    },
  )
})

describe('the demo configuration', () => {
  test('uses the demo upstream ports and the environment overrides', async () => {
    const settings = await loadConfigFile(join(CONFIG_DIR, 'gateway.yaml'), {
      SWITCHYARD_PORT: '18080',
      SWITCHYARD_ADMIN_PORT: '19901',
      SWITCHYARD_ADMIN_TOKEN: 'letmein',
    })
    expect(settings.server.port).toBe(18080)
    expect(settings.admin).toEqual({ host: '127.0.0.1', port: 19901, token: 'letmein' })
    const pools = Object.fromEntries(settings.pools.map((p) => [p.name, p]))
    expect(pools['users-v1']!.backends).toEqual([
      { url: 'http://127.0.0.1:9001', weight: 1 },
      { url: 'http://127.0.0.1:9002', weight: 1 },
      { url: 'http://127.0.0.1:9003', weight: 2 },
    ])
    expect(pools['users-v2']!.backends.map((b) => b.url)).toEqual(['http://127.0.0.1:9101', 'http://127.0.0.1:9102'])
    expect(pools['users-static']!.backends.map((b) => b.url)).toEqual(['http://127.0.0.1:9201'])
    expect(pools['orders']!.backends.map((b) => b.url)).toEqual(['http://127.0.0.1:9301', 'http://127.0.0.1:9302'])
    expect(pools['orders']!.algorithm).toBe('least-connections')
    expect(pools['users-v1']!.fallback).toBe('users-static')
    expect(pools['users-v2']!.fallback).toBe('users-static')
    expect(pools['users-v1']!.healthCheck).toMatchObject({ path: '/health', interval: 2000 })
    expect(pools['users-v2']!.healthCheck).toMatchObject({ path: '/health', interval: 2000 })
    expect(settings.routes.map((r) => r.name)).toEqual(['users', 'orders', 'account'])
    const [users, orders, account] = settings.routes
    expect(users).toMatchObject({
      match: { path: '/api/users' },
      rewritePrefix: '/users',
      split: [
        { pool: 'users-v1', weight: 90 },
        { pool: 'users-v2', weight: 10 },
      ],
      sticky: { kind: 'header', name: 'x-user-id' },
      override: 'x-switchyard-pool',
      rateLimit: { max: 100, window: 60_000, key: { kind: 'ip' }, onStoreError: 'allow' },
    })
    expect(orders).toMatchObject({ split: [{ pool: 'orders', weight: 1 }], cache: { ttl: 30_000, staleWhileRevalidate: 10_000, staleIfError: 300_000 } })
    expect(account).toMatchObject({ split: [{ pool: 'users-v1', weight: 1 }], jwt: { required: true, forwardClaims: { sub: 'x-user-id' } } })
    expect(settings.jwt).toMatchObject({ algorithms: ['HS256'], secret: 'switchyard-demo-secret-change-me' })
  })

  test('defaults the ports and leaves the admin token empty without an environment', async () => {
    const settings = await loadConfigFile(join(CONFIG_DIR, 'gateway.yaml'), {})
    expect(settings.server.port).toBe(8080)
    expect(settings.admin).toEqual({ host: '127.0.0.1', port: 9901, token: '' })
  })
})
