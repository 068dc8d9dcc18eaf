import { describe, expect, it } from 'vitest'
import { singleRange } from '../../src/cache/range.js'

describe('single byte ranges from a stored body (RFC 9110 §14.1.2)', () => {
  it('reads first-last, open-ended and suffix ranges', () => {
    expect(singleRange('bytes=0-1', 11)).toEqual({ start: 0, end: 1 })
    expect(singleRange('bytes=1-', 11)).toEqual({ start: 1, end: 10 })
    expect(singleRange('bytes=-3', 11)).toEqual({ start: 8, end: 10 })
    expect(singleRange('bytes=5-100', 11)).toEqual({ start: 5, end: 10 })
    expect(singleRange('bytes=-100', 11)).toEqual({ start: 0, end: 10 })
  })
  it('declines what it does not answer from the cache: several ranges, other units, unsatisfiable', () => {
    for (const v of ['bytes=0-1,3-4', 'items=0-1', 'bytes=20-', 'bytes=5-2', 'bytes=-0', 'bytes=-', 'bytes=a-b']) expect(singleRange(v, 11), v).toBeUndefined()
    expect(singleRange('bytes=0-1', 0)).toBeUndefined()
  })
})
