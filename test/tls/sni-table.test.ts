import { describe, expect, it } from 'vitest'
import { compileSniTable } from '../../src/tls/sni.js'

describe('SNI lookup table', () => {
  const lookup = compileSniTable([
    { names: ['api.example.com'], value: 'api' },
    { names: ['*.example.com', 'Shop.Test'], value: 'wild' },
    { names: ['api.example.com', '*.example.com', 'other.test'], value: 'late' },
  ])

  it('prefers an exact name over a wildcard', () => {
    expect(lookup('api.example.com')).toBe('api')
    expect(lookup('www.example.com')).toBe('wild')
  })

  it('lets a wildcard cover exactly one label', () => {
    expect(lookup('example.com')).toBeUndefined()
    expect(lookup('a.b.example.com')).toBeUndefined()
    expect(lookup('.example.com')).toBeUndefined()
  })

  it('compares case-insensitively and ignores one trailing dot', () => {
    expect(lookup('WWW.EXAMPLE.COM')).toBe('wild')
    expect(lookup('shop.test')).toBe('wild')
    expect(lookup('shop.test.')).toBe('wild')
  })

  it('keeps the first entry that claims a name and misses unknown or empty names', () => {
    expect(lookup('other.test')).toBe('late')
    expect(lookup('nothing.test')).toBeUndefined()
    expect(lookup('')).toBeUndefined()
  })
})
