import { describe, expect, test } from 'vitest'
import { ConfigError, parseConfigText } from '../../src/config/index.js'

const BROKEN = `
server:
  port: \${GATEWAY_PORT}
  headersTimeout: soon
admin: { port: 9901, tokn: x }
jwt:
  algorithms: [HS256]
pools:
  users-v1:
    algorithm: round-robn
    backends:
      - http://127.0.0.1:9001/api
      - { url: http://127.0.0.1:9002, weight: -1 }
    fallback: users-static
  users-static:
    backends: []
    fallback: users-v1
routes:
  - name: users
    match: { pth: /api/users, pathRegex: "(" }
    split:
      - { pool: users-v1, weight: 90 }
      - { pool: users-v3, weight: 10 }
  - name: users
    pool: orders
`

function refuse(text: string): ConfigError {
  try {
    parseConfigText(text, { env: {}, source: '/etc/switchyard/gateway.yaml' })
  } catch (error) {
    if (error instanceof ConfigError) return error
    throw error
  }
  throw new Error('expected a ConfigError')
}

describe('all problems are reported together', () => {
  test('env, schema and semantic problems of one file come in one error, in document order', () => {
    expect(refuse(BROKEN).lines()).toEqual([
      'server.port: environment variable GATEWAY_PORT is not set',
      'server.headersTimeout: must be a duration: milliseconds as a number, or a string like 250ms, 5s, 1m, 1h, 1d',
      'admin.tokn: unknown key "tokn"; did you mean "token"?',
      'jwt: needs one of secret, publicKey or jwksUrl',
      'pools.users-v1.algorithm: must be one of round-robin, weighted-round-robin, least-connections, least-response-time, ip-hash, consistent-hash, random, power-of-two-choices, resource-based',
      'pools.users-v1.backends[0]: "http://127.0.0.1:9001/api" must be an origin (scheme://host:port) without a path, query or fragment; use rewritePrefix on the route for paths',
      'pools.users-v1.backends[1].weight: must be at least 0',
      'pools.users-v1.fallback: fallback cycle: users-v1 → users-static → users-v1',
      'pools.users-static.backends: pool has no backends',
      'routes[0].match.pth: unknown key "pth"; did you mean "path"?',
      'routes[0].match.pathRegex: Invalid regular expression: /(/: Unterminated group',
      'routes[0].split[1].pool: unknown pool "users-v3"',
      'routes[1].name: duplicate route name "users" (also routes[0])',
      'routes[1].pool: unknown pool "orders"',
    ])
  })

  test('the error carries its code, its problems and a message listing them', () => {
    const error = refuse(BROKEN)
    expect(error.code).toBe('SWITCHYARD_CONFIG_INVALID')
    expect(error.problems[0]).toEqual({ path: 'server.port', message: 'environment variable GATEWAY_PORT is not set' })
    expect(error.source).toBe('/etc/switchyard/gateway.yaml')
    expect(error.message).toMatch(/^invalid configuration in \/etc\/switchyard\/gateway\.yaml \(14 problems\):\n  server\.port: /)
    expect(error.message.split('\n')).toHaveLength(15)
    expect(Object.isFrozen(error.problems)).toBe(true)
  })

  test('the SPEC example line', () => {
    const text = `
pools:
  users-v1: { backends: [http://127.0.0.1:9001] }
  users-v2: { backends: [http://127.0.0.1:9101] }
routes:
  - { name: a, pool: users-v1 }
  - { name: b, pool: users-v2 }
  - name: c
    split:
      - { pool: users-v1, weight: 1 }
      - { pool: users-v3, weight: 1 }
`
    expect(refuse(text).lines()).toEqual(['routes[2].split[1].pool: unknown pool "users-v3"'])
  })
})
