/**
 * The access-log writer in-process: hand-built lines are valid JSON with every string escaped,
 * undefined (and non-finite) fields are left out, sampling follows the random source, and an
 * owned file destination holds every line once closed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config/index.js'
import { createAccessLog, formatFields, type AccessEntry } from '../../src/log/access-log.js'

const dir = mkdtempSync(join(tmpdir(), 'sy-access-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function memorySink(): { lines: string[]; write(line: string): void } {
  const lines: string[] = []
  return { lines, write: (line: string) => void lines.push(line) }
}

const ON = { enabled: true, sample: 1 }

describe('access line format', () => {
  it('is one JSON line with level 30, time, the bindings, type access and msg request', () => {
    const sink = memorySink()
    const log = createAccessLog(ON, { sink, now: () => 1_700_000_000_123, bindings: ',"pid":7,"service":"switchyard"' })!
    log.write({ reqId: 'r1', method: 'GET', path: '/a', route: 'all', pool: 'main', attempts: 1, status: 200, bytes: 12, upstreamMs: 1.25, totalMs: 2.5 })
    expect(sink.lines).toHaveLength(1)
    expect(sink.lines[0]!.endsWith('}\n')).toBe(true)
    expect(sink.lines[0]!.indexOf('\n')).toBe(sink.lines[0]!.length - 1)
    expect(JSON.parse(sink.lines[0]!)).toEqual({
      level: 30,
      time: 1_700_000_000_123,
      pid: 7,
      service: 'switchyard',
      type: 'access',
      reqId: 'r1',
      method: 'GET',
      path: '/a',
      route: 'all',
      pool: 'main',
      attempts: 1,
      status: 200,
      bytes: 12,
      upstreamMs: 1.25,
      totalMs: 2.5,
      msg: 'request',
    })
  })

  it('escapes quotes, backslashes, control characters and lone surrogates in every string field', () => {
    const nasty = 'a"b\\c\nd\re\tf\u0000g\u001fh\u2028i\u2029j\ud800k</script>ü€😀'
    const fields = ['reqId', 'traceId', 'method', 'path', 'host', 'client', 'route', 'pool', 'splitPool', 'backend', 'cache'] as const
    const entry: AccessEntry = {}
    for (const f of fields) entry[f] = `${f}:${nasty}`
    const line = `{${formatFields(entry).slice(1)}}`
    expect(line).not.toMatch(/[\u0000-\u001f]/)
    expect(line).toContain('\\ud800')
    const parsed = JSON.parse(line) as Record<string, string>
    for (const f of fields) expect(parsed[f]).toBe(`${f}:${nasty}`)
    expect(Object.keys(parsed)).toEqual([...fields])
  })

  it('leaves out undefined fields and non-finite numbers, and writes fallback only when set', () => {
    expect(formatFields({})).toBe('')
    expect(formatFields({ status: 502, bytes: Number.NaN, upstreamMs: undefined, totalMs: Infinity, fallback: undefined })).toBe(',"status":502')
    expect(formatFields({ fallback: true, attempts: 0 })).toBe(',"attempts":0,"fallback":true')
  })

  it('keeps the field order of the old pino line', () => {
    const all: Required<AccessEntry> = {
      reqId: 'r', traceId: 't', method: 'GET', path: '/', host: 'h', client: '127.0.0.1', route: 'all', pool: 'p', splitPool: 's',
      backend: 'http://b', attempts: 2, fallback: true, cache: 'HIT', consumer: 'ci', status: 200, code: 'SWITCHYARD_X', bytes: 1, upstreamMs: 1, totalMs: 2,
    }
    expect(Object.keys(JSON.parse(`{${formatFields(all).slice(1)}}`))).toEqual(Object.keys(all))
  })
})

describe('sampling', () => {
  it('decides per request from the random source: below sample is logged', () => {
    const draws = [0.05, 0.1, 0.5, 0.09999, 0.99]
    let i = 0
    const log = createAccessLog({ enabled: true, sample: 0.1 }, { sink: memorySink(), random: () => draws[i++]! })!
    expect(draws.map(() => log.sampled())).toEqual([true, false, false, true, false])
  })

  it('sample 1 logs every request and sample 0 none, without drawing', () => {
    const random = () => {
      throw new Error('no draw expected')
    }
    expect(createAccessLog({ enabled: true, sample: 1 }, { sink: memorySink(), random })!.sampled()).toBe(true)
    expect(createAccessLog({ enabled: true, sample: 0 }, { sink: memorySink(), random })!.sampled()).toBe(false)
  })

  it('a disabled access log is no writer at all', () => {
    expect(createAccessLog({ enabled: false, sample: 1 }, { sink: memorySink() })).toBeUndefined()
  })
})

describe('file destination', () => {
  it('buffers lines and holds every one of them after close', async () => {
    const file = join(dir, 'nested', 'access.log')
    const log = createAccessLog({ enabled: true, sample: 1, file })!
    for (let i = 0; i < 1000; i++) log.write({ reqId: `r${i}`, path: '/x', status: 200 })
    await log.close()
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n')
    expect(lines).toHaveLength(1000)
    expect(lines.map((l) => (JSON.parse(l) as { reqId: string }).reqId)).toEqual(Array.from({ length: 1000 }, (_, i) => `r${i}`))
    // Closed: later lines are dropped, a second close is harmless.
    log.write({ reqId: 'late' })
    await log.close()
    expect(readFileSync(file, 'utf8')).not.toContain('late')
  })

  it('flushSync writes what is buffered at once (what the exit handler does)', async () => {
    const file = join(dir, 'flush.log')
    const log = createAccessLog({ enabled: true, sample: 1, file })!
    await new Promise((r) => setTimeout(r, 50)) // the file is opened asynchronously
    log.write({ reqId: 'one', status: 200 })
    expect(readFileSync(file, 'utf8')).toBe('') // under minLength: still buffered
    log.flushSync()
    expect(readFileSync(file, 'utf8')).toContain('"reqId":"one"')
    await log.close()
  })

  it('appends to an existing file', async () => {
    const file = join(dir, 'append.log')
    for (const id of ['first', 'second']) {
      const log = createAccessLog({ enabled: true, sample: 1, file })!
      log.write({ reqId: id })
      await log.close()
    }
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(2)
  })

  it('a file that cannot be opened is a configuration error naming log.access.file', () => {
    const file = join(dir, 'append.log', 'under-a-file.log')
    expect(() => createAccessLog({ enabled: true, sample: 1, file })).toThrow(ConfigError)
    try {
      createAccessLog({ enabled: true, sample: 1, file })
    } catch (e) {
      expect((e as ConfigError).lines()[0]).toMatch(/^log\.access\.file: cannot open .* for writing: E[A-Z]+$/)
    }
  })
})
