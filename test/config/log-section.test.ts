/**
 * The `log` section (SPEC §5): level, file, access (true | false | { sample, file }); defaults,
 * paths resolved against the file's directory, problems named by path, and the reload warning.
 */
import { resolve } from 'node:path'
import { describe, expect, test } from 'vitest'
import { normalizeConfig, parseConfigText } from '../../src/config/index.js'
import { warnOnLogChanges } from '../../src/log/logger.js'
import { linesOfYaml } from './problem-lines.js'

describe('log: normalised settings', () => {
  test('defaults: level info, stdout, access log on for every request', () => {
    expect(parseConfigText('', { env: {} }).log).toEqual({ level: 'info', access: { enabled: true, sample: 1 } })
    expect(parseConfigText('log: {}', { env: {} }).log).toEqual({ level: 'info', access: { enabled: true, sample: 1 } })
  })

  test('access: true, false and an object', () => {
    expect(parseConfigText('log: { access: true }').log.access).toEqual({ enabled: true, sample: 1 })
    expect(parseConfigText('log: { access: false }').log.access).toEqual({ enabled: false, sample: 1 })
    expect(parseConfigText('log: { access: { sample: 0.1 } }').log.access).toEqual({ enabled: true, sample: 0.1 })
    expect(parseConfigText('log: { access: {} }').log.access).toEqual({ enabled: true, sample: 1 })
  })

  test('files are resolved against the directory of the configuration', () => {
    const settings = normalizeConfig(
      { log: { level: 'warn', file: 'logs/gateway.log', access: { sample: 0.5, file: '/var/log/switchyard/access.log' } } },
      { baseDir: '/etc/switchyard', env: {} },
    )
    expect(settings.log).toEqual({
      level: 'warn',
      file: resolve('/etc/switchyard/logs/gateway.log'),
      access: { enabled: true, sample: 0.5, file: '/var/log/switchyard/access.log' },
    })
    expect(Object.isFrozen(settings.log.access)).toBe(true)
  })

  test('every level of the SPEC is accepted, and ${ENV} works for level and sample', () => {
    for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']) {
      expect(parseConfigText(`log: { level: ${level} }`).log.level).toBe(level)
    }
    const settings = parseConfigText('log: { level: "${LOG_LEVEL:-debug}", access: { sample: "${SAMPLE}" } }', { env: { SAMPLE: '0.25' } })
    expect(settings.log).toEqual({ level: 'debug', access: { enabled: true, sample: 0.25 } })
  })
})

describe('log: problems name their path', () => {
  test.each([
    ['an unknown level', 'log: { level: verbose }', 'log.level: must be one of trace, debug, info, warn, error, fatal, silent'],
    ['a sample above 1', 'log: { access: { sample: 1.5 } }', 'log.access.sample: must be at most 1'],
    ['a negative sample', 'log: { access: { sample: -0.1 } }', 'log.access.sample: must be at least 0'],
    ['access as a string', 'log: { access: yes }', 'log.access: must be true, false or { sample, file }'],
    ['an unknown access key', 'log: { access: { rate: 0.1 } }', 'log.access.rate: unknown key "rate"'],
    ['an unknown log key', 'log: { levle: info }', 'log.levle: unknown key "levle"; did you mean "level"?'],
    ['an empty file', 'log: { file: "" }', 'log.file: must not be empty'],
    ['the access file is the log file', 'log: { file: /tmp/sy.log, access: { file: /tmp/sy.log } }', 'log.access.file: must differ from log.file (/tmp/sy.log); leave it out to write access lines to log.file'],
  ])('%s', (_what, yaml, line) => {
    expect(linesOfYaml(yaml)).toEqual([line])
  })
})

describe('log: reload', () => {
  const warnings: unknown[][] = []
  const log = { warn: (...args: unknown[]) => void warnings.push(args) }
  test('a change of the log section is a warning that it applies after a restart', () => {
    const a = parseConfigText('log: { level: info }')
    expect(warnOnLogChanges(a, parseConfigText('log: { level: info, access: true }'), log)).toBe(false)
    expect(warnings).toEqual([])
    expect(warnOnLogChanges(a, parseConfigText('log: { level: debug, access: { sample: 0.5 } }'), log)).toBe(true)
    expect(warnings).toEqual([[{ changed: ['log.level', 'log.access'] }, 'log.level, log.access changed: logging settings apply after a restart']])
  })
})
