import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ConfigError, checkConfigFile, loadConfigFile, parseConfigText } from '../../src/config/index.js'

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-config-'))
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name)
  await mkdir(join(path, '..'), { recursive: true })
  await writeFile(path, text)
  return path
}

async function refusal(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ConfigError)
  return error as ConfigError
}

describe('JSON files', () => {
  test('a file ending in .json is read as JSON', async () => {
    const path = await write(
      'gw.json',
      JSON.stringify({ $schema: './gateway.schema.json', server: { port: 9000 }, pools: { a: { backends: ['http://127.0.0.1:1'] } }, routes: [{ name: 'r', pool: 'a' }] }),
    )
    const settings = await loadConfigFile(path, {})
    expect(settings.server.port).toBe(9000)
    expect(settings.routes[0]!.split).toEqual([{ pool: 'a', weight: 1 }])
    expect(settings.source).toBe(path)
  })

  test('a JSON syntax error names its line and column', async () => {
    const path = await write('bad.json', '{\n  "server": {\n    "port" 8080\n  }\n}\n')
    const error = await refusal(loadConfigFile(path, {}))
    expect(error.lines()).toEqual([expect.stringMatching(/^line 3, column 12: Expected ':' after property name/)])
    expect(error.source).toBe(path)
  })

  test('duplicate keys in JSON are refused, not silently overwritten', async () => {
    const path = await write('dup.json', '{\n  "server": { "port": 1 },\n  "server": { "port": 2 }\n}\n')
    const error = await refusal(loadConfigFile(path, {}))
    expect(error.lines()).toEqual(['line 3, column 3: duplicate key: map keys must be unique'])
  })

  test('a JSON file is not read as YAML (YAML-only syntax is an error)', async () => {
    const path = await write('yamlish.json', 'server:\n  port: 1\n')
    const error = await refusal(loadConfigFile(path, {}))
    expect(error.lines()).toEqual(["json: Unexpected token 's'"])
  })

  test('parseConfigText reads JSON with format json', () => {
    expect(parseConfigText('{"admin": false}', { format: 'json' }).admin).toBe(false)
  })
})

describe('YAML files', () => {
  test('a YAML syntax error names its line and column', async () => {
    const path = await write('bad.yaml', 'server:\n  port: 8080\n   host: x\n')
    const error = await refusal(loadConfigFile(path, {}))
    expect(error.lines()).toEqual([expect.stringMatching(/^line \d, column \d+: \S/)])
    expect(error.code).toBe('SWITCHYARD_CONFIG_INVALID')
  })

  test('duplicate keys in YAML are refused with their line', () => {
    let error: unknown
    try {
      parseConfigText('pools:\n  a: { backends: [http://127.0.0.1:1] }\n  a: { backends: [http://127.0.0.1:2] }\n')
    } catch (e) {
      error = e
    }
    expect((error as ConfigError).lines()).toEqual(['line 3, column 3: duplicate key: map keys must be unique'])
  })

  test('anchors and merge keys work', () => {
    const settings = parseConfigText(
      [
        'pools:',
        '  a: &pool { backends: [http://127.0.0.1:1], timeouts: { connect: 1s } }',
        '  b: { <<: *pool, backends: [http://127.0.0.1:2] }',
      ].join('\n'),
    )
    expect(settings.pools[1]).toMatchObject({ name: 'b', backends: [{ url: 'http://127.0.0.1:2' }], timeouts: { connect: 1000 } })
  })

  test('a billion-laughs document is refused', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
    for (let i = 0; i < 8; i++) {
      const prev = String.fromCharCode(97 + i)
      const next = String.fromCharCode(98 + i)
      lines.push(`${next}: &${next} [*${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}]`)
    }
    expect(() => parseConfigText(lines.join('\n'))).toThrow(ConfigError)
  })
})

describe('loading and checking files', () => {
  test('a missing file is a ConfigError naming the file', async () => {
    const path = join(dir, 'nope.yaml')
    const error = await refusal(loadConfigFile(path, {}))
    expect(error.lines()).toEqual([`${path}: cannot read the configuration file (ENOENT)`])
    expect(await checkConfigFile(path, {})).toEqual({ ok: false, lines: [`${path}: cannot read the configuration file (ENOENT)`] })
  })

  test('check reports referenced files that cannot be read, with their setting path', async () => {
    await write('tls/certs/default.pem', 'not really a cert')
    const path = await write(
      'tls/gw.yaml',
      [
        'server:',
        '  tls:',
        '    port: 8443',
        '    clientCa: certs/clients-ca.pem',
        '    certificates:',
        '      - { cert: certs/default.pem, key: certs/default-key.pem }',
        'jwt: { algorithms: [RS256], publicKey: keys/jwt.pem }',
        'pools: { a: { backends: [https://10.0.0.1], tls: { ca: certs/internal-ca.pem } } }',
      ].join('\n'),
    )
    const tls = join(dir, 'tls')
    expect(await checkConfigFile(path, {})).toEqual({
      ok: false,
      lines: [
        `server.tls.clientCa: cannot read ${join(tls, 'certs/clients-ca.pem')} (ENOENT)`,
        `server.tls.certificates[0].key: cannot read ${join(tls, 'certs/default-key.pem')} (ENOENT)`,
        `jwt.publicKey: cannot read ${join(tls, 'keys/jwt.pem')} (ENOENT)`,
        `pools.a.tls.ca: cannot read ${join(tls, 'certs/internal-ca.pem')} (ENOENT)`,
      ],
    })
    // Loading does not read these files: that is the TLS and JWT setup's job at start.
    await expect(loadConfigFile(path, {})).resolves.toBeDefined()
  })

  test('check reports configuration problems and unreadable files together', async () => {
    const path = await write('mixed.yaml', 'server: { prot: 1, tls: { port: 8443, certificates: [{ cert: missing.pem, key: missing-key.pem }] } }\n')
    const result = await checkConfigFile(path, {})
    expect(result).toEqual({
      ok: false,
      lines: [
        'server.prot: unknown key "prot"; did you mean "port"?',
        `server.tls.certificates[0].cert: cannot read ${join(dir, 'missing.pem')} (ENOENT)`,
        `server.tls.certificates[0].key: cannot read ${join(dir, 'missing-key.pem')} (ENOENT)`,
      ],
    })
  })

  test('check of a valid file is ok', async () => {
    const path = await write('ok.yaml', 'pools: { a: { backends: [http://127.0.0.1:1] } }\nroutes: [{ name: r, pool: a }]\n')
    expect(await checkConfigFile(path, {})).toEqual({ ok: true })
  })

  test('the environment given to loadConfigFile is used instead of process.env', async () => {
    const path = await write('env.yaml', 'server: { port: "${SY_TEST_PORT}" }\n')
    expect((await loadConfigFile(path, { SY_TEST_PORT: '7000' })).server.port).toBe(7000)
    expect(await checkConfigFile(path, {})).toEqual({ ok: false, lines: ['server.port: environment variable SY_TEST_PORT is not set'] })
  })
})
