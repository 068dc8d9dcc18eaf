import { describe, expect, it } from 'vitest'
import { deltaMs, INVALID, parseCacheControl, requestDirectives } from '../../src/cache/cache-control.js'

describe('Cache-Control parsing (RFC 9111 §5.2)', () => {
  it('is case-insensitive on names and keeps commas inside quoted values', () => {
    const d = parseCacheControl('Max-Age=60, no-cache="set-cookie, x-a", PUBLIC')
    expect(d.get('max-age')).toBe('60')
    expect(d.get('no-cache')).toBe('set-cookie, x-a')
    expect(d.get('public')).toBe(true)
    expect(d.has('x-a"')).toBe(false)
  })
  it('combines repeated field lines', () => {
    const d = parseCacheControl(['max-age=60', 'must-revalidate'])
    expect([...d.keys()]).toEqual(['max-age', 'must-revalidate'])
  })
  it('marks malformed or conflicting delta-seconds invalid (read as 0 = stale)', () => {
    expect(parseCacheControl('max-age=abc').get('max-age')).toBe(INVALID)
    expect(parseCacheControl('max-age=1, max-age=2').get('max-age')).toBe(INVALID)
    expect(parseCacheControl('max-age=2, max-age=2').get('max-age')).toBe('2')
    expect(deltaMs(parseCacheControl('max-age=-1'), 'max-age')).toBe(0)
    expect(deltaMs(parseCacheControl('max-age="30"'), 'max-age')).toBe(30_000)
    expect(deltaMs(parseCacheControl('max-age=99999999999'), 'max-age')).toBe(2147483648_000)
  })
  it('reads request directives, with Pragma only when Cache-Control is absent', () => {
    expect(requestDirectives({ 'cache-control': 'max-stale' }).maxStale).toBe(Infinity)
    expect(requestDirectives({ 'cache-control': 'max-stale=5, only-if-cached' })).toMatchObject({ maxStale: 5000, onlyIfCached: true })
    expect(requestDirectives({ pragma: 'no-cache' }).noCache).toBe(true)
    expect(requestDirectives({ pragma: 'no-cache', 'cache-control': 'max-age=5' }).noCache).toBe(false)
    expect(requestDirectives({ 'cache-control': 'max-age=x' }).maxAge).toBeUndefined()
  })
})
