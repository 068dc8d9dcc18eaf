import { describe, expect, test } from 'vitest'
import { parseConfigText } from '../../src/config/index.js'
import { linesOfYaml } from './problem-lines.js'

describe('${ENV} substitution', () => {
  test('replaces a set variable', () => {
    const settings = parseConfigText('admin: { token: "${TOKEN}" }', { env: { TOKEN: 's3cret' } })
    expect(settings.admin).toMatchObject({ token: 's3cret' })
  })

  test('uses the default when the variable is unset or empty', () => {
    const text = 'admin: { token: "${TOKEN:-fallback}" }'
    expect(parseConfigText(text, { env: {} }).admin).toMatchObject({ token: 'fallback' })
    expect(parseConfigText(text, { env: { TOKEN: '' } }).admin).toMatchObject({ token: 'fallback' })
    expect(parseConfigText(text, { env: { TOKEN: 'set' } }).admin).toMatchObject({ token: 'set' })
  })

  test('an empty default gives an empty string', () => {
    expect(parseConfigText('admin: { token: "${TOKEN:-}" }', { env: {} }).admin).toMatchObject({ token: '' })
  })

  test('a set but empty variable without a default is an empty string', () => {
    expect(parseConfigText('admin: { token: "${TOKEN}" }', { env: { TOKEN: '' } }).admin).toMatchObject({ token: '' })
  })

  test('an unset variable without a default is a problem naming the path and the variable', () => {
    expect(linesOfYaml('admin: { token: "${ADMIN_TOKEN}" }')).toEqual(['admin.token: environment variable ADMIN_TOKEN is not set'])
  })

  test('substitutes inside longer strings, several times', () => {
    const s = parseConfigText('rateLimit: { redis: "redis://${HOST}:${PORT:-6379}/0" }', { env: { HOST: 'cache.internal' } })
    expect(s.rateLimit.redis).toBe('redis://cache.internal:6379/0')
  })

  test('a value can never inject YAML structure', () => {
    const evil = 'x\nadmin: false\npools: {}'
    const settings = parseConfigText('admin: { token: "${TOKEN}" }', { env: { TOKEN: evil } })
    expect(settings.admin).toMatchObject({ token: evil })
  })

  test('a value is not substituted again', () => {
    const settings = parseConfigText('admin: { token: "${A}" }', { env: { A: '${B}', B: 'nope' } })
    expect(settings.admin).toMatchObject({ token: '${B}' })
  })

  test('$${ writes a literal ${', () => {
    const settings = parseConfigText('admin: { token: "$${NOT_A_VAR}" }', { env: {} })
    expect(settings.admin).toMatchObject({ token: '${NOT_A_VAR}' })
  })

  test('malformed references are problems', () => {
    expect(linesOfYaml('admin: { token: "${1BAD}" }')).toEqual([
      'admin.token: invalid substitution "${1BAD}": write ${NAME} or ${NAME:-default}',
    ])
    expect(linesOfYaml('admin: { token: "abc${OPEN" }')).toEqual([
      'admin.token: unterminated "${": write ${NAME}, ${NAME:-default}, or $${ for a literal',
    ])
  })

  test('numbers and booleans given through variables are coerced', () => {
    const settings = parseConfigText(
      [
        'server: { port: "${PORT:-8080}", maxConnections: "${MAXC}" }',
        'admin: "${ADMIN:-false}"',
        'pools: { a: { backends: [http://127.0.0.1:1], retry: { budget: "${BUDGET}", on: ["${CODE}"] } } }',
        'routes: [{ name: r, pool: a, websocket: "${WS}" }]',
      ].join('\n'),
      { env: { MAXC: '42', BUDGET: '0.5', CODE: '503', WS: 'true' } },
    )
    expect(settings.server.port).toBe(8080)
    expect(settings.server.maxConnections).toBe(42)
    expect(settings.admin).toBe(false)
    expect(settings.pools[0]!.retry).toMatchObject({ budget: 0.5, on: [503] })
    expect(settings.routes[0]!.websocket).toBe(true)
  })

  test('a variable that is not a number where one is needed is reported at its path', () => {
    expect(linesOfYaml('server: { port: "${PORT}" }', { PORT: 'eighty' })).toEqual(['server.port: must be an integer'])
  })

  test('an unset variable is reported once, not also as a type error', () => {
    expect(linesOfYaml('server: { port: "${PORT}" }')).toEqual(['server.port: environment variable PORT is not set'])
  })

  test('durations from variables keep their units', () => {
    const settings = parseConfigText('server: { requestTimeout: "${T:-90s}", shutdownTimeout: "${S}" }', { env: { S: '2500' } })
    expect(settings.server.requestTimeout).toBe(90_000)
    expect(settings.server.shutdownTimeout).toBe(2500)
  })

  test('objects passed to normalizeConfig are substituted too, and not modified', async () => {
    const { normalizeConfig } = await import('../../src/config/index.js')
    const raw = { admin: { token: '${T}' } }
    expect(normalizeConfig(raw, { env: { T: 'x' } }).admin).toMatchObject({ token: 'x' })
    expect(raw.admin.token).toBe('${T}')
  })
})
