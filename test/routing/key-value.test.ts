import { describe, expect, it } from 'vitest'
import { keyValueOf, type KeyInput } from '../../src/routing/key-value.js'

const input = (over: Partial<KeyInput> = {}): KeyInput => ({
  clientIp: '203.0.113.7',
  headers: { 'x-user-id': 'alice', cookie: 'a=1; sid="s-9"; empty=', 'x-empty': '' },
  claims: { sub: 'u-1', tenant: 42, admin: true, roles: ['a', 'b'], blank: '' },
  path: '/api/x',
  query: 'tenant=acme&blank=',
  route: 'users',
  ...over,
})

describe('key sources (one reading for splits, hashing, rate limits, sessions, explain)', () => {
  it('reads every kind of source', () => {
    expect(keyValueOf({ kind: 'ip' }, input())).toBe('203.0.113.7')
    expect(keyValueOf({ kind: 'path' }, input())).toBe('/api/x')
    expect(keyValueOf({ kind: 'route' }, input())).toBe('users')
    expect(keyValueOf({ kind: 'header', name: 'x-user-id' }, input())).toBe('alice')
    expect(keyValueOf({ kind: 'cookie', name: 'sid' }, input())).toBe('s-9')
    expect(keyValueOf({ kind: 'query', name: 'tenant' }, input())).toBe('acme')
    expect(keyValueOf({ kind: 'jwt', claim: 'sub' }, input())).toBe('u-1')
    expect(keyValueOf({ kind: 'jwt', claim: 'tenant' }, input())).toBe('42')
    expect(keyValueOf({ kind: 'jwt', claim: 'admin' }, input())).toBe('true')
    expect(keyValueOf({ kind: 'jwt', claim: 'roles' }, input())).toBe('["a","b"]')
  })

  it('treats empty and missing values as absent, so no client can join a shared empty bucket', () => {
    expect(keyValueOf({ kind: 'header', name: 'x-empty' }, input())).toBeUndefined()
    expect(keyValueOf({ kind: 'header', name: 'x-missing' }, input())).toBeUndefined()
    expect(keyValueOf({ kind: 'cookie', name: 'empty' }, input())).toBeUndefined()
    expect(keyValueOf({ kind: 'query', name: 'blank' }, input())).toBeUndefined()
    expect(keyValueOf({ kind: 'query', name: 'tenant' }, input({ query: '' }))).toBeUndefined()
    expect(keyValueOf({ kind: 'jwt', claim: 'blank' }, input())).toBeUndefined()
    expect(keyValueOf({ kind: 'jwt', claim: 'sub' }, input({ claims: undefined }))).toBeUndefined()
  })

  it('takes the first of repeated header values and joins repeated Cookie fields', () => {
    expect(keyValueOf({ kind: 'header', name: 'x-user-id' }, input({ headers: { 'x-user-id': ['first', 'second'] } }))).toBe('first')
    expect(keyValueOf({ kind: 'cookie', name: 'b' }, input({ headers: { cookie: ['a=1', 'b=2'] } }))).toBe('2')
  })
})
