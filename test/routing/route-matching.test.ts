import { describe, expect, it } from 'vitest'
import { normalizePath } from '../../src/routing/normalize-path.js'
import { compileRouteTable } from '../../src/routing/route-table.js'
import type { MatchInput } from '../../src/routing/types.js'
import { route } from './route-fixtures.js'

function req(path: string, extra: Partial<MatchInput> = {}): MatchInput {
  return { method: 'GET', host: 'api.example.com', path, headers: {}, ...extra }
}

describe('route matching', () => {
  it('matches a path prefix only on a segment boundary', () => {
    const t = compileRouteTable([route('users', { path: '/api/users' })])
    expect(t.match(req('/api/users'))?.name).toBe('users')
    expect(t.match(req('/api/users/7'))?.name).toBe('users')
    expect(t.match(req(normalizePath('/api/users?x=1').path))?.name).toBe('users')
    expect(t.match(req('/api/users/'))?.name).toBe('users')
    expect(t.match(req('/api/usersx'))).toBeUndefined()
    expect(t.match(req('/api/user'))).toBeUndefined()
    expect(t.match(req('/API/users'))).toBeUndefined()
  })

  it('treats a prefix written with a trailing slash as a directory', () => {
    const t = compileRouteTable([route('api', { path: '/api/' })])
    expect(t.match(req('/api/x'))?.name).toBe('api')
    expect(t.match(req('/api/'))?.name).toBe('api')
    expect(t.match(req('/api'))).toBeUndefined()
    expect(t.match(req('/apix'))).toBeUndefined()
  })

  it('lets "/" match every path', () => {
    const t = compileRouteTable([route('all', { path: '/' })])
    expect(t.match(req('/'))?.name).toBe('all')
    expect(t.match(req('/anything/at/all'))?.name).toBe('all')
    expect(t.match(req('*', { method: 'OPTIONS' }))).toBeUndefined()
  })

  it('keeps every attack spelling of /admin inside the /admin route', () => {
    const t = compileRouteTable([route('admin', { path: '/admin' }, { split: [{ pool: 'admin', weight: 1 }] }), route('public', { path: '/' })])
    for (const spelling of ['/api/../admin', '//admin', '/%61dmin', '/%2e%2e/admin', '/./admin/', '/public/../admin/x']) {
      expect(t.match(req(normalizePath(spelling).path))?.name, spelling).toBe('admin')
    }
    for (const refused of ['/admin%2F..', '/admin;jsessionid=1', '/public/..;/admin', '/public/..%2Fadmin', '/%zz']) {
      expect(() => normalizePath(refused), refused).toThrow(expect.objectContaining({ statusCode: 400 }))
    }
  })

  it('matches pathExact exactly', () => {
    const t = compileRouteTable([route('login', { pathExact: '/login' })])
    expect(t.match(req('/login'))?.name).toBe('login')
    expect(t.match(req('/login/'))).toBeUndefined()
    expect(t.match(req('/login/x'))).toBeUndefined()
  })

  it('matches pathRegex against the normalised path', () => {
    const t = compileRouteTable([route('items', { pathRegex: '^/v[0-9]+/items$' })])
    expect(t.match(req('/v2/items'))?.name).toBe('items')
    expect(t.match(req(normalizePath('/v2//items').path))?.name).toBe('items')
    expect(t.match(req('/vx/items'))).toBeUndefined()
  })

  it('matches hosts exactly or by *. wildcard, case-insensitively as configured', () => {
    const t = compileRouteTable([route('exact', { host: 'api.example.com' }), route('wild', { host: '*.Example.org' })])
    expect(t.match(req('/', { host: 'api.example.com' }))?.name).toBe('exact')
    expect(t.match(req('/', { host: 'www.example.org' }))?.name).toBe('wild')
    expect(t.match(req('/', { host: 'a.b.example.org' }))?.name).toBe('wild')
    expect(t.match(req('/', { host: 'example.org' }))).toBeUndefined()
    expect(t.match(req('/', { host: 'evilexample.org' }))).toBeUndefined()
    expect(t.match(req('/', { host: 'other.example.com' }))).toBeUndefined()
  })

  it('matches methods from the configured list', () => {
    const t = compileRouteTable([route('rw', { methods: ['GET', 'POST'] })])
    expect(t.match(req('/', { method: 'POST' }))?.name).toBe('rw')
    expect(t.match(req('/', { method: 'DELETE' }))).toBeUndefined()
  })

  it('matches headers by exact value, regex and presence', () => {
    const t = compileRouteTable([
      route('exact', { headers: { 'x-tenant': { kind: 'exact', value: 'acme' } } }),
      route('regex', { headers: { 'x-tenant': { kind: 'regex', source: '^be' } } }),
      route('present', { headers: { 'x-debug': { kind: 'present', present: true } } }),
      route('absent', { headers: { 'x-debug': { kind: 'present', present: false }, 'x-tenant': { kind: 'present', present: true } } }),
    ])
    expect(t.match(req('/', { headers: { 'x-tenant': 'acme' } }))?.name).toBe('exact')
    expect(t.match(req('/', { headers: { 'x-tenant': 'beta' } }))?.name).toBe('regex')
    expect(t.match(req('/', { headers: { 'x-debug': '1' } }))?.name).toBe('present')
    expect(t.match(req('/', { headers: { 'x-tenant': 'zeta' } }))?.name).toBe('absent')
    expect(t.match(req('/', { headers: {} }))).toBeUndefined()
  })

  it('requires every condition of a route to hold', () => {
    const t = compileRouteTable([route('r', { path: '/api', host: 'api.example.com', methods: ['GET'] })])
    expect(t.match(req('/api/x'))?.name).toBe('r')
    expect(t.match(req('/api/x', { method: 'PUT' }))).toBeUndefined()
    expect(t.match(req('/api/x', { host: 'other.com' }))).toBeUndefined()
  })

  it('lets the first matching route win, in configuration order', () => {
    const t = compileRouteTable([route('specific', { path: '/api/users' }), route('general', { path: '/api' }), route('late', { path: '/api/users' })])
    expect(t.match(req('/api/users/1'))?.name).toBe('specific')
    expect(t.match(req('/api/orders'))?.name).toBe('general')
    expect(t.routes.map((r) => [r.name, r.index])).toEqual([
      ['specific', 0],
      ['general', 1],
      ['late', 2],
    ])
    expect(t.get('late')?.index).toBe(2)
    expect(t.get('nope')).toBeUndefined()
  })

  it('keeps configuration order between routes with and without a path prefix', () => {
    const t = compileRouteTable([
      route('host-only', { host: 'special.example.com' }),
      route('api', { path: '/api' }),
      route('regex', { pathRegex: '^/api/v[0-9]+' }),
      route('api-v1', { path: '/api/v1' }),
      route('root-exact', { pathExact: '/' }),
      route('catch-all', { path: '/' }),
    ])
    expect(t.match(req('/api/v1/x', { host: 'special.example.com' }))?.name).toBe('host-only')
    expect(t.match(req('/api/v1/x'))?.name).toBe('api')
    expect(t.match(req('/'))?.name).toBe('root-exact')
    expect(t.match(req('/other'))?.name).toBe('catch-all')
    const t2 = compileRouteTable([route('regex', { pathRegex: '^/api/v[0-9]+' }), route('api', { path: '/api' }), route('orders', { path: '/orders/' })])
    expect(t2.match(req('/api/v2'))?.name).toBe('regex')
    expect(t2.match(req('/api/x'))?.name).toBe('api')
    expect(t2.match(req('/orders/1'))?.name).toBe('orders')
    expect(t2.match(req('/orders'))).toBeUndefined()
    expect(t2.match(req('/unknown'))).toBeUndefined()
  })

  it('explains a mismatch with a short reason naming the first failing condition', () => {
    const t = compileRouteTable([
      route('users', { path: '/api/users', methods: ['GET', 'POST'], host: '*.example.com', headers: { 'x-tenant': { kind: 'exact', value: 'acme' } } }),
      route('login', { pathExact: '/login' }),
      route('items', { pathRegex: '^/v[0-9]+/items$' }),
    ])
    const users = t.get('users')!
    expect(users.mismatch(req('/x'))).toBe('path /x does not start with /api/users')
    expect(users.mismatch(req('/api/users', { method: 'DELETE' }))).toBe('method DELETE not in GET, POST, HEAD')
    expect(users.mismatch(req('/api/users', { host: 'example.net' }))).toBe('host example.net does not match *.example.com')
    expect(users.mismatch(req('/api/users'))).toBe('header x-tenant is missing')
    expect(users.mismatch(req('/api/users', { headers: { 'x-tenant': 'zeta' } }))).toBe('header x-tenant is "zeta", not "acme"')
    expect(users.mismatch(req('/api/users', { headers: { 'x-tenant': 'acme' } }))).toBeUndefined()
    expect(t.get('login')!.mismatch(req('/logout'))).toBe('path /logout is not /login')
    expect(t.get('items')!.mismatch(req('/v1/other'))).toBe('path /v1/other does not match ^/v[0-9]+/items$')
  })

  it('compares against configured paths normalised the same way', () => {
    const t = compileRouteTable([route('cafe', { path: '/café' }), route('dots', { path: '/a/./b//c' })])
    expect(t.match(req(normalizePath('/caf%c3%a9/menu').path))?.name).toBe('cafe')
    expect(t.match(req('/a/b/c/d'))?.name).toBe('dots')
  })

  it('refuses a regex that does not compile when the table is compiled', () => {
    expect(() => compileRouteTable([route('bad', { pathRegex: '([' })])).toThrow(expect.objectContaining({ code: 'SWITCHYARD_BAD_ROUTE_SETTING' }))
    expect(() => compileRouteTable([route('bad', { headers: { 'x-a': { kind: 'regex', source: '*' } } })])).toThrow(/route "bad"/)
  })
})
