import { describe, expect, it } from 'vitest'
import { compileRouteTable } from '../../src/routing/route-table.js'
import { route } from './route-fixtures.js'

function rewriter(match: Parameters<typeof route>[1], rewritePrefix: string | undefined): (p: string) => string {
  const r = compileRouteTable([route('r', match, rewritePrefix === undefined ? {} : { rewritePrefix })]).routes[0]
  return (p) => r.rewrite(p)
}

describe('rewritePrefix', () => {
  it('forwards the matched path unchanged without rewritePrefix', () => {
    expect(rewriter({ path: '/api/users' }, undefined)('/api/users/7')).toBe('/api/users/7')
  })

  it('replaces the matched prefix', () => {
    const rw = rewriter({ path: '/api/users' }, '/users')
    expect(rw('/api/users')).toBe('/users')
    expect(rw('/api/users/7')).toBe('/users/7')
    expect(rw('/api/users/')).toBe('/users/')
  })

  it('strips the prefix with "" and still starts with "/"', () => {
    const rw = rewriter({ path: '/api/users' }, '')
    expect(rw('/api/users')).toBe('/')
    expect(rw('/api/users/7')).toBe('/7')
  })

  it('never produces a double slash', () => {
    expect(rewriter({ path: '/api/users' }, '/users/')('/api/users/7')).toBe('/users/7')
    expect(rewriter({ path: '/api/' }, '/v2')('/api/x')).toBe('/v2/x')
    expect(rewriter({ path: '/api/' }, '/v2/')('/api/x')).toBe('/v2/x')
    expect(rewriter({ path: '/' }, '/base')('/x/y')).toBe('/base/x/y')
    expect(rewriter({ path: '/api' }, '/')('/api/x')).toBe('/x')
  })

  it('replaces the whole path of a pathExact route and prefixes other routes', () => {
    expect(rewriter({ pathExact: '/login' }, '/auth/login')('/login')).toBe('/auth/login')
    expect(rewriter({ pathRegex: '^/v[0-9]+/' }, '/legacy')('/v1/items')).toBe('/legacy/v1/items')
  })
})
