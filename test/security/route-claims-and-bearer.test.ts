/**
 * Route claim requirements (equal, or contained in an array / space-separated list), forwarded
 * claim values, and bearer-token extraction.
 */
import { describe, expect, it } from 'vitest'
import { extractBearer } from '../../src/auth/bearer.js'
import { claimSatisfies, compileRouteJwt, headerValue } from '../../src/auth/claims.js'

describe('required claims', () => {
  it('match by equality, array membership or space-separated membership, never by substring', () => {
    expect(claimSatisfies('users:read', 'users:read')).toBe(true)
    expect(claimSatisfies('openid users:read profile', 'users:read')).toBe(true)
    expect(claimSatisfies('users:read profile', 'users:read')).toBe(true)
    expect(claimSatisfies('profile users:read', 'users:read')).toBe(true)
    expect(claimSatisfies(['admin', 'users:read'], 'users:read')).toBe(true)
    expect(claimSatisfies('users:readwrite', 'users:read')).toBe(false)
    expect(claimSatisfies('xusers:read', 'users:read')).toBe(false)
    expect(claimSatisfies('users:read2 users:rea', 'users:read')).toBe(false)
    expect(claimSatisfies(undefined, 'users:read')).toBe(false)
    expect(claimSatisfies(true, true)).toBe(true)
    expect(claimSatisfies('true', true)).toBe(false)
    expect(claimSatisfies(7, 7)).toBe(true)
    expect(claimSatisfies([7, 8], 8)).toBe(true)
    expect(claimSatisfies({ 'users:read': true }, 'users:read')).toBe(false)
  })

  it('names the first missing claim', () => {
    const route = compileRouteJwt({ required: true, claims: { scope: 'users:read', tenant: 'acme' }, forwardClaims: {} })
    expect(route.missingClaim({ scope: 'users:read', tenant: 'acme' })).toBeUndefined()
    expect(route.missingClaim({ scope: 'users:write', tenant: 'acme' })).toBe('scope')
    expect(route.missingClaim({ scope: 'users:read' })).toBe('tenant')
  })

  it('compiles once per settings object', () => {
    const settings = { required: false, claims: {}, forwardClaims: { sub: 'x-user-id' } }
    expect(compileRouteJwt(settings)).toBe(compileRouteJwt(settings))
    expect(compileRouteJwt(settings).forwardedHeaderNames).toEqual(['x-user-id'])
  })
})

describe('forwarded claims', () => {
  it('turn claims into header values and drop values that would be unsafe in a header', () => {
    const route = compileRouteJwt({ required: true, claims: {}, forwardClaims: { sub: 'x-user-id', roles: 'x-roles', n: 'x-n', bad: 'x-bad' } })
    expect(route.forwardHeaders({ sub: 'u1', roles: ['a', 'b'], n: 3, bad: 'x\r\nset-cookie: a=b' })).toEqual({ 'x-user-id': 'u1', 'x-roles': 'a, b', 'x-n': '3' })
    expect(route.forwardHeaders({})).toBeUndefined()
    expect(headerValue({ a: 1 })).toBe('{"a":1}')
    expect(headerValue(null)).toBeUndefined()
    expect(headerValue('\u2028')).toBeUndefined()
  })
})

describe('bearer extraction', () => {
  it('reads the Bearer scheme case-insensitively and ignores other schemes', () => {
    expect(extractBearer('Bearer abc.def.ghi', 100)).toBe('abc.def.ghi')
    expect(extractBearer('bearer abc', 100)).toBe('abc')
    expect(extractBearer('BEARER   abc', 100)).toBe('abc')
    expect(extractBearer('Basic dXNlcjpwYXNz', 100)).toBeUndefined()
    expect(extractBearer('Bearerabc', 100)).toBeUndefined()
    expect(extractBearer(undefined, 100)).toBeUndefined()
  })

  it('refuses an empty or oversized credential', () => {
    expect(() => extractBearer('Bearer ', 100)).toThrow(expect.objectContaining({ code: 'SWITCHYARD_JWT_MALFORMED' }))
    expect(() => extractBearer('Bearer    ', 100)).toThrow(expect.objectContaining({ code: 'SWITCHYARD_JWT_MALFORMED' }))
    expect(() => extractBearer(`Bearer ${'a'.repeat(101)}`, 100)).toThrow(expect.objectContaining({ code: 'SWITCHYARD_JWT_TOO_LARGE', statusCode: 401 }))
  })
})
