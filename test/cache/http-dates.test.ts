import { describe, expect, it } from 'vitest'
import { parseHttpDate } from '../../src/cache/http-date.js'

const T = Date.UTC(1994, 10, 6, 8, 49, 37)

describe('HTTP-date parsing (RFC 9110 §5.6.7)', () => {
  it('reads IMF-fixdate and the obsolete RFC 850 and asctime formats', () => {
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(T)
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(T)
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(T)
  })
  it('matches case-insensitively, as RFC 9111 §4.2 asks of cache recipients', () => {
    expect(parseHttpDate('SUN, 06 Nov 1994 08:49:37 GMT')).toBe(T)
    expect(parseHttpDate('Sun, 06 NOV 1994 08:49:37 GMT')).toBe(T)
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 gMT')).toBe(T)
    expect(parseHttpDate('SUNDAY, 06-nov-94 08:49:37 gmt')).toBe(T)
    expect(parseHttpDate('sun NOV  6 08:49:37 1994')).toBe(T)
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 UTC')).toBeNaN()
  })
  it('refuses what JavaScript would guess at: other zones, ISO dates, two-digit years, impossible days', () => {
    for (const v of ['Sun, 06 Nov 1994 08:49:37 AEST', '1994-11-06T08:49:37Z', 'Sun, 06 Nov 94 08:49:37 GMT', 'Thu, 31 Feb 2026 00:00:00 GMT', '0', '', 'Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT']) {
      expect(parseHttpDate(v), v).toBeNaN()
    }
    expect(parseHttpDate(undefined)).toBeNaN()
  })
})
