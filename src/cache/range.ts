/**
 * Serving a single byte range from a complete stored response (RFC 9110 §14). Only the
 * simple, unambiguous case is answered from the cache: one `bytes` range, no If-Range, a
 * stored 200. Anything else goes to the origin untouched and is not stored (no partial
 * storage).
 */
const SINGLE_RANGE = /^bytes=(\d*)-(\d*)$/
const WHITESPACE = /\s+/g

export interface ByteRange {
  readonly start: number
  /** Inclusive. */
  readonly end: number
}

/**
 * The byte range a `Range` value selects in a body of `size` bytes; undefined when it is not
 * a single satisfiable `bytes` range (the caller then forwards the request).
 */
export function singleRange(value: string | undefined, size: number): ByteRange | undefined {
  if (value === undefined || size === 0) return undefined
  const m = SINGLE_RANGE.exec(value.replace(WHITESPACE, ''))
  if (m === null) return undefined
  const [, first, last] = m
  if (first === '' && last === '') return undefined
  if (first === '') {
    // suffix-byte-range-spec: the last N bytes
    const n = Number(last)
    if (n === 0) return undefined
    return { start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1)
  if (start >= size || end < start) return undefined
  return { start, end }
}
