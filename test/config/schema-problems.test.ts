import { normalizeConfig } from '../../src/config/index.js'
import { describe, expect, test } from 'vitest'
import { linesOfObject, linesOfYaml } from './problem-lines.js'

describe('unknown keys are errors with their path', () => {
  test.each([
    ['top level', 'serverr: {}', 'serverr: unknown key "serverr"; did you mean "server"?'],
    ['server', 'server: { prot: 1 }', 'server.prot: unknown key "prot"; did you mean "port"?'],
    ['server.tls', 'server: { tls: { port: 8443, certificates: [{ cert: a, key: b, sni: [x] }] } }', 'server.tls.certificates[0].sni: unknown key "sni"'],
    ['a pool', 'pools: { a: { backends: [http://127.0.0.1:1], algoritm: random } }', 'pools.a.algoritm: unknown key "algoritm"; did you mean "algorithm"?'],
    ['a backend object', 'pools: { a: { backends: [{ url: http://127.0.0.1:1, wieght: 2 }] } }', 'pools.a.backends[0].wieght: unknown key "wieght"; did you mean "weight"?'],
    ['a route match', 'pools: { a: { backends: [http://127.0.0.1:1] } }\nroutes: [{ name: r, pool: a, match: { pth: /x } }]', 'routes[0].match.pth: unknown key "pth"; did you mean "path"?'],
    ['a split entry', 'pools: { a: { backends: [http://127.0.0.1:1] } }\nroutes: [{ name: r, split: [{ pool: a, weight: 1, sticky: true }] }]', 'routes[0].split[0].sticky: unknown key "sticky"'],
    ['route headers', 'pools: { a: { backends: [http://127.0.0.1:1] } }\nroutes: [{ name: r, pool: a, headers: { request: { add: {} } } }]', 'routes[0].headers.request.add: unknown key "add"'],
    ['odd key names are quoted', 'pools: { a: { backends: [http://127.0.0.1:1], "retry.attempts": 2 } }', 'pools.a["retry.attempts"]: unknown key "retry.attempts"'],
  ])('%s', (_where, yaml, line) => {
    expect(linesOfYaml(yaml)).toEqual([line])
  })
})

describe('type and value messages', () => {
  test('an enum lists the accepted values', () => {
    expect(linesOfYaml('pools: { a: { algorithm: fastest, backends: [http://127.0.0.1:1] } }')).toEqual([
      'pools.a.algorithm: must be one of round-robin, weighted-round-robin, least-connections, least-response-time, ip-hash, consistent-hash, random, power-of-two-choices, resource-based',
    ])
  })

  test('a wrong scalar type says what is expected', () => {
    expect(linesOfYaml('server: { port: [1] }\nrateLimit: { store: 1 }')).toEqual([
      'server.port: must be an integer',
      'rateLimit.store: must be one of memory, redis',
    ])
  })

  test('a missing required key is reported at its own path', () => {
    expect(linesOfYaml('pools: { a: {} }')).toEqual(['pools.a.backends: is required'])
    expect(linesOfYaml('pools: { a: { backends: [http://127.0.0.1:1] } }\nroutes: [{ pool: a }]')).toEqual(['routes[0].name: is required'])
  })

  test('ranges name their bound', () => {
    expect(linesOfYaml('server: { port: 70000 }')).toEqual(['server.port: must be at most 65535'])
    expect(linesOfYaml('pools: { a: { backends: [http://127.0.0.1:1], retry: { budget: 1.5 } } }')).toEqual([
      'pools.a.retry.budget: must be at most 1',
    ])
  })

  test('an empty key (YAML null) says it has no value', () => {
    expect(linesOfYaml('server:\n  tls:\n')).toEqual(['server.tls: has no value: give one, or remove the key'])
  })

  test('a union reports the branch the value was meant for', () => {
    // An object backend with a bad field: the object's problem, not "must be a string".
    expect(linesOfYaml('pools: { a: { backends: [{ url: http://127.0.0.1:1, weight: x }] } }')).toEqual([
      'pools.a.backends[0].weight: must be an integer',
    ])
    // A scalar that fits no branch: one summary.
    expect(linesOfYaml('pools: { a: { backends: [[http://127.0.0.1:1]] } }')).toEqual([
      'pools.a.backends[0]: must be a URL string or { url, weight }',
    ])
    expect(linesOfYaml('admin: yes')).toEqual(['admin: must be false, true or an admin object'])
  })

  test('retry conditions list what is accepted', () => {
    expect(linesOfYaml('pools: { a: { backends: [http://127.0.0.1:1], retry: { on: [reset, 404, 5xx, 302, sometimes] } } }')).toEqual([
      'pools.a.retry.on[3]: must be connect-error, reset, timeout, 4xx, 5xx, a gRPC status (cancelled, deadline-exceeded, internal, resource-exhausted, unavailable) or a status code 400-599',
      'pools.a.retry.on[4]: must be connect-error, reset, timeout, 4xx, 5xx, a gRPC status (cancelled, deadline-exceeded, internal, resource-exhausted, unavailable) or a status code 400-599',
    ])
  })

  test('key sources say which forms exist', () => {
    expect(linesOfYaml('pools: { a: { backends: [http://127.0.0.1:1], hashOn: body } }')).toEqual([
      'pools.a.hashOn: must be a key source: ip, path, route, header:NAME, cookie:NAME, query:NAME or jwt:CLAIM',
    ])
  })

  test('a document that is not a mapping is refused at the root', () => {
    expect(linesOfYaml('- a\n- b\n')).toEqual(['(root): must be a mapping of keys to values'])
    expect(linesOfObject('just a string')).toEqual(['(root): must be a mapping of keys to values'])
  })

  test('workers is a whole number from 1 to 256, or "auto"', () => {
    expect(normalizeConfig({ server: { workers: 'auto' } }).server.workers).toBe('auto')
    expect(normalizeConfig({ server: { workers: 4 } }).server.workers).toBe(4)
    expect(linesOfYaml('server: { workers: 0 }')).toEqual(['server.workers: must be a whole number from 1 to 256, or "auto"'])
    expect(linesOfYaml('server: { workers: many }')).toEqual(['server.workers: must be a whole number from 1 to 256, or "auto"'])
  })
})

describe('keys that look like object internals', () => {
  test('__proto__ is an unknown key, never a prototype', () => {
    expect(linesOfYaml('__proto__: { admin: false }')).toEqual(['__proto__: unknown key "__proto__"'])
    expect(linesOfObject(JSON.parse('{"server": {"__proto__": {"port": 1}}}'))).toEqual(['server.__proto__: unknown key "__proto__"'])
  })

  test('a __proto__ header name stays an own key of the settings', async () => {
    const { parseConfigText } = await import('../../src/config/index.js')
    const settings = parseConfigText('pools: { a: { backends: [http://127.0.0.1:1] } }\nroutes: [{ name: r, pool: a, match: { headers: { __proto__: x } } }]')
    const headers = settings.routes[0]!.match.headers!
    expect(Object.keys(headers)).toEqual(['__proto__'])
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype)
  })
})
