import { describe, expect, it } from 'vitest'
import { clientNotModified, notModifiedMatches, updatedHeaders, validationHeaders } from '../../src/cache/policy.js'

describe('validating stored responses (RFC 9111 §4.3)', () => {
  it('builds If-None-Match and If-Modified-Since from the stored validators', () => {
    expect(validationHeaders({ etag: '"v1"', 'last-modified': 'Tue, 01 Dec 2026 00:00:00 GMT' })).toEqual({
      'if-none-match': '"v1"',
      'if-modified-since': 'Tue, 01 Dec 2026 00:00:00 GMT',
    })
    expect(validationHeaders({ 'content-type': 'text/plain' })).toEqual({})
  })

  it('applies a 304 only when its validators select the stored response (§4.3.4)', () => {
    expect(notModifiedMatches({ etag: '"v1"' }, { etag: '"v1"' })).toBe(true)
    expect(notModifiedMatches({ etag: '"v1"' }, { etag: '"v2"' })).toBe(false)
    expect(notModifiedMatches({ etag: 'W/"v1"' }, { etag: 'W/"v1"' })).toBe(true)
    expect(notModifiedMatches({}, { etag: '"v1"' })).toBe(false)
    expect(notModifiedMatches({ 'last-modified': 'a' }, { 'last-modified': 'b' })).toBe(false)
    expect(notModifiedMatches({ etag: '"v1"' }, {})).toBe(true)
  })

  it('updates stored headers from a 304 but never the body-describing ones (§3.2)', () => {
    const h = updatedHeaders({ 'content-length': '5', 'cache-control': 'max-age=1', 'x-a': '1' }, { 'content-length': '0', 'cache-control': 'max-age=60', 'x-b': '2' })
    expect(h).toEqual({ 'content-length': '5', 'cache-control': 'max-age=60', 'x-a': '1', 'x-b': '2' })
    expect(updatedHeaders({ 'content-md5': 'a', 'content-encoding': 'gzip' }, { 'content-md5': 'b', 'content-encoding': 'br' })).toEqual({
      'content-md5': 'a',
      'content-encoding': 'gzip',
    })
  })
})

describe('client conditionals answered from the cache (RFC 9110 §13)', () => {
  const stored = { etag: '"v1"', 'last-modified': 'Tue, 01 Dec 2026 00:00:00 GMT' }
  it('If-None-Match uses weak comparison and lists', () => {
    expect(clientNotModified(stored, { 'if-none-match': '"x", W/"v1"' }, 0)).toBe(true)
    expect(clientNotModified(stored, { 'if-none-match': '"x"' }, 0)).toBe(false)
    expect(clientNotModified(stored, { 'if-none-match': '*' }, 0)).toBe(true)
  })
  it('If-Modified-Since compares with Last-Modified, and yields to If-None-Match', () => {
    expect(clientNotModified(stored, { 'if-modified-since': 'Wed, 02 Dec 2026 00:00:00 GMT' }, 0)).toBe(true)
    expect(clientNotModified(stored, { 'if-modified-since': 'Mon, 30 Nov 2026 00:00:00 GMT' }, 0)).toBe(false)
    expect(clientNotModified(stored, { 'if-none-match': '"x"', 'if-modified-since': 'Wed, 02 Dec 2026 00:00:00 GMT' }, 0)).toBe(false)
    expect(clientNotModified(stored, { 'if-modified-since': 'garbage' }, 0)).toBe(false)
  })
})
