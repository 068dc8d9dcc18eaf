/**
 * `check` warns about routes an earlier route makes unreachable, and only those it provably does.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { normalizeConfig } from '../../src/config/index.js'
import { shadowedRoutes } from '../../src/routing/shadowed.js'

const pools = { p: { backends: ['http://127.0.0.1:9'] } }
const names = (routes: Record<string, unknown>[]) =>
  shadowedRoutes(normalizeConfig({ pools, routes: routes.map((r, i) => ({ name: `r${i}`, pool: 'p', ...r })) }).routes).map((s) => `${s.name}<${s.byName}`)

describe('shadowed routes', () => {
  it('finds routes behind a catch-all, a wider prefix, a wildcard host or a wider method set', () => {
    expect(names([{ match: { path: '/' } }, { match: { path: '/api' } }])).toEqual(['r1<r0'])
    expect(names([{}, { match: { pathExact: '/x' } }])).toEqual(['r1<r0'])
    expect(names([{ match: { path: '/api' } }, { match: { path: '/api/users', methods: ['GET'] } }])).toEqual(['r1<r0'])
    expect(names([{ match: { path: '/api', host: '*.example.com' } }, { match: { path: '/api/v2', host: 'a.example.com' } }])).toEqual(['r1<r0'])
    expect(names([{ match: { methods: ['GET', 'POST'] } }, { match: { path: '/x', methods: ['POST'] } }])).toEqual(['r1<r0'])
    expect(names([{ match: { pathExact: '/a' } }, { match: { pathExact: '/a' } }])).toEqual(['r1<r0'])
  })

  it('stays quiet when the earlier route is narrower in any way', () => {
    expect(names([{ match: { path: '/api/users' } }, { match: { path: '/api' } }])).toEqual([])
    expect(names([{ match: { path: '/api' } }, { match: { path: '/apix' } }])).toEqual([])
    expect(names([{ match: { path: '/', headers: { 'x-canary': 'on' } } }, { match: { path: '/' } }])).toEqual([])
    expect(names([{ match: { path: '/', clientIp: ['10.0.0.0/8'] } }, { match: { path: '/' } }])).toEqual([])
    expect(names([{ match: { path: '/', methods: ['GET'] } }, { match: { path: '/' } }])).toEqual([])
    expect(names([{ match: { path: '/', host: 'a.example.com' } }, { match: { path: '/' } }])).toEqual([])
    expect(names([{ match: { pathRegex: '^/a' } }, { match: { path: '/a' } }])).toEqual([])
    expect(names([{ match: { pathExact: '/a' } }, { match: { path: '/a' } }])).toEqual([])
  })

  it('switchyard check prints the warning on stderr and still exits 0 with ok', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-shadow-'))
    try {
      const file = join(dir, 'g.yaml')
      writeFileSync(file, 'pools: { p: { backends: ["http://127.0.0.1:9"] } }\nroutes:\n  - { name: all, match: { path: / }, pool: p }\n  - { name: api, match: { path: /api }, pool: p }\n')
      const r = spawnSync(process.execPath, [join(import.meta.dirname, '../../bin/switchyard.js'), 'check', '-c', file], { encoding: 'utf8' })
      expect(r.status).toBe(0)
      expect(r.stdout.trim()).toBe('ok')
      expect(r.stderr.trim()).toBe('warning: routes[1]: route "api" can never match: routes[0] ("all") takes every request it could (the first match wins)')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
