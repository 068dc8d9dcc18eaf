import { describe, expect, it } from 'vitest'
import { normalizeConfiguredPath, normalizePath } from '../../src/routing/normalize-path.js'

function badPath(target: string, method?: string): { code: string; statusCode: number; message: string } {
  try {
    normalizePath(target, method)
  } catch (err) {
    return err as { code: string; statusCode: number; message: string }
  }
  throw new Error(`expected ${target} to be refused`)
}

describe('path normalisation', () => {
  it('returns an ordinary target untouched, split into path and raw query', () => {
    const target = '/api/users/7/file.json?a=1&b=%2F'
    const r = normalizePath(target)
    expect(r).toEqual({ path: '/api/users/7/file.json', query: 'a=1&b=%2F' })
    expect(normalizePath('/')).toEqual({ path: '/', query: '' })
    expect(normalizePath('/a?')).toEqual({ path: '/a', query: '' })
  })

  it('keeps the query exactly as sent (it is not part of path matching)', () => {
    expect(normalizePath('/a//b?x=../..&y=%zz').query).toBe('x=../..&y=%zz')
  })

  it('decodes escapes of unreserved characters (RFC 3986 §6.2.2.2)', () => {
    expect(normalizePath('/%61dmin').path).toBe('/admin')
    expect(normalizePath('/api/%7Euser%2D%5F%2e').path).toBe('/api/~user-_.')
  })

  it('upper-cases the hex of escapes it keeps (RFC 3986 §6.2.2.1)', () => {
    expect(normalizePath('/caf%c3%a9/%3a%40').path).toBe('/caf%C3%A9/%3A%40')
    expect(normalizePath('/100%25').path).toBe('/100%25')
  })

  it('refuses malformed escapes with 400 SWITCHYARD_BAD_PATH', () => {
    for (const t of ['/%zz', '/%4', '/a%', '/%g1/x', '/%%41']) {
      const err = badPath(t)
      expect(err.code).toBe('SWITCHYARD_BAD_PATH')
      expect(err.statusCode).toBe(400)
      expect(err.message).toMatch(/malformed percent-encoding/)
    }
  })

  it('refuses encoded slash, backslash, NUL and semicolon', () => {
    expect(badPath('/admin%2F..').message).toMatch(/encoded slash/)
    expect(badPath('/admin%2f..').message).toMatch(/encoded slash/)
    expect(badPath('/a%5Cb').message).toMatch(/encoded backslash/)
    expect(badPath('/a%5cb').message).toMatch(/encoded backslash/)
    expect(badPath('/a%00').message).toMatch(/encoded NUL/)
    expect(badPath('/admin%3Bx').message).toMatch(/encoded semicolon/)
  })

  it('refuses a literal backslash, semicolon (matrix parameters) and fragment', () => {
    expect(badPath('/a\\..\\admin').message).toMatch(/backslash/)
    expect(badPath('/admin;jsessionid=1').message).toMatch(/semicolon/)
    expect(badPath('/app/..;/admin').message).toMatch(/semicolon/)
    expect(badPath('/a#b').message).toMatch(/fragment/)
    expect(badPath('/a?b#c').message).toMatch(/fragment/)
  })

  it('refuses control characters and spaces', () => {
    expect(badPath('/a b').statusCode).toBe(400)
    expect(badPath('/a\tb').statusCode).toBe(400)
    expect(badPath('/a\u007fb').statusCode).toBe(400)
  })

  it('collapses repeated slashes', () => {
    expect(normalizePath('//admin').path).toBe('/admin')
    expect(normalizePath('/a///b//c?x').path).toBe('/a/b/c')
    expect(normalizePath('/a//').path).toBe('/a/')
    expect(normalizePath('//').path).toBe('/')
  })

  it('resolves dot segments (RFC 3986 §5.2.4) without escaping the root', () => {
    expect(normalizePath('/api/../admin').path).toBe('/admin')
    expect(normalizePath('/api/./users/.').path).toBe('/api/users/')
    expect(normalizePath('/a/b/..').path).toBe('/a/')
    expect(normalizePath('/../../admin').path).toBe('/admin')
    expect(normalizePath('/..').path).toBe('/')
    expect(normalizePath('/.well-known/x').path).toBe('/.well-known/x')
    expect(normalizePath('/a/...b/..c').path).toBe('/a/...b/..c')
  })

  it('resolves encoded dot segments after decoding them', () => {
    expect(normalizePath('/%2e%2e/admin').path).toBe('/admin')
    expect(normalizePath('/api/%2E%2E/admin').path).toBe('/admin')
    expect(normalizePath('/api/.%2e/admin').path).toBe('/admin')
    expect(normalizePath('/api/%2e/users').path).toBe('/api/users')
  })

  it('percent-encodes printable characters a path may not contain, so each path has one spelling', () => {
    expect(normalizePath('/a{b}|c^`"<>[]').path).toBe('/a%7Bb%7D%7Cc%5E%60%22%3C%3E%5B%5D')
    expect(normalizePath('/a%7Bb%7d').path).toBe('/a%7Bb%7D')
  })

  it('encodes non-ASCII characters (configuration and explain input) as UTF-8', () => {
    expect(normalizeConfiguredPath('/café')).toBe('/caf%C3%A9')
    expect(normalizeConfiguredPath('/caf%c3%a9')).toBe('/caf%C3%A9')
  })

  it('is case-sensitive in the path', () => {
    expect(normalizePath('/API/Users').path).toBe('/API/Users')
  })

  it('refuses absolute-form and other non-"/" targets; accepts * only for OPTIONS', () => {
    expect(badPath('http://evil.example/admin').message).toMatch(/must start with/)
    expect(badPath('admin').statusCode).toBe(400)
    expect(badPath('').message).toMatch(/empty/)
    expect(normalizePath('*', 'OPTIONS')).toEqual({ path: '*', query: '' })
    expect(badPath('*', 'GET').statusCode).toBe(400)
  })

  it('is idempotent: a normalised path normalises to itself', () => {
    const samples = ['/a//b/../c/%7e/%c3%a9', '/%2e%2e/x/./y/', '/a{b}', '/x/..', '/caf%C3%A9/100%25']
    for (const s of samples) {
      const once = normalizePath(s).path
      expect(normalizePath(once).path).toBe(once)
    }
  })
})
