import { describe, expect, test } from 'vitest'
import { parseConfigText, parseDuration, parseSize } from '../../src/config/index.js'
import { linesOfYaml } from './problem-lines.js'

describe('durations', () => {
  test.each([
    [250, 250],
    ['250', 250],
    ['250ms', 250],
    ['5s', 5000],
    ['1.5s', 1500],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['0', 0],
    ['30 s', 30_000],
  ])('%j is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms)
  })

  test.each(['', 'abc', 'x', '-1s', '5sec', '1w', '5S', '1m30s'])('%j is refused with a typed error', (input) => {
    expect(() => parseDuration(input)).toThrow(expect.objectContaining({ code: 'SWITCHYARD_INVALID_UNIT' }))
  })

  test('negative and non-finite numbers are refused', () => {
    expect(() => parseDuration(-1)).toThrow(/invalid duration/)
    expect(() => parseDuration(Number.POSITIVE_INFINITY)).toThrow(/invalid duration/)
  })

  test('configuration durations accept numbers and unit strings', () => {
    const settings = parseConfigText('server: { headersTimeout: 2500, requestTimeout: 2m, shutdownTimeout: "1h" }')
    expect(settings.server).toMatchObject({ headersTimeout: 2500, requestTimeout: 120_000, shutdownTimeout: 3_600_000 })
  })

  test('an invalid duration in a file names its path and the accepted forms', () => {
    expect(linesOfYaml('server: { requestTimeout: 5 minutes }')).toEqual([
      'server.requestTimeout: must be a duration: milliseconds as a number, or a string like 250ms, 5s, 1m, 1h, 1d',
    ])
    expect(linesOfYaml('server: { requestTimeout: -5 }')).toEqual(['server.requestTimeout: must be at least 0'])
  })
})

describe('sizes (1024-based)', () => {
  test.each([
    [1000, 1000],
    ['1000', 1000],
    ['100b', 100],
    ['512kb', 512 * 1024],
    ['1mb', 1024 * 1024],
    ['64mb', 64 * 1024 * 1024],
    ['1gb', 1024 ** 3],
    ['1.5kb', 1536],
    ['16KB', 16 * 1024],
    ['10 mb', 10 * 1024 * 1024],
  ])('%j is %d bytes', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes)
  })

  test.each(['x', '1tb', '-1kb', '1 k', 'mb'])('%j is refused with a typed error', (input) => {
    expect(() => parseSize(input)).toThrow(expect.objectContaining({ code: 'SWITCHYARD_INVALID_UNIT' }))
  })

  test('configuration sizes accept numbers and unit strings', () => {
    const settings = parseConfigText('server: { bodyLimit: 1mb, maxHeaderSize: 8192 }\ncache: { maxSize: 1gb, maxEntrySize: 512kb }')
    expect(settings.server).toMatchObject({ bodyLimit: 1_048_576, maxHeaderSize: 8192 })
    expect(settings.cache).toMatchObject({ maxSize: 1024 ** 3, maxEntrySize: 512 * 1024 })
  })

  test('an invalid size in a file names its path and the accepted forms', () => {
    expect(linesOfYaml('server: { bodyLimit: 10 megabytes }')).toEqual([
      'server.bodyLimit: must be a size: bytes as a number, or a string like 512kb, 1mb, 64mb, 1gb (1024-based)',
    ])
  })
})
