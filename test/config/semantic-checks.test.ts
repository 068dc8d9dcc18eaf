import { describe, expect, it, test } from 'vitest'
import { parseConfigText } from '../../src/config/index.js'
import { BASE_POOLS, linesOfYaml } from './problem-lines.js'

const JWT = 'jwt: { algorithms: [HS256], secret: "0123456789abcdef0123456789abcdef" }\n'

function routes(yaml: string): string {
  return `${BASE_POOLS}routes:\n${yaml}`
}

describe('pool references', () => {
  test.each([
    ['a route pool', routes('  - { name: r, pool: c }'), 'routes[0].pool: unknown pool "c"'],
    [
      'a split pool',
      routes('  - { name: r, split: [{ pool: a, weight: 1 }, { pool: users-v3, weight: 1 }] }'),
      'routes[0].split[1].pool: unknown pool "users-v3"',
    ],
    ['a mirror pool', routes('  - { name: r, pool: a, mirror: { pool: shadow } }'), 'routes[0].mirror.pool: unknown pool "shadow"'],
    ['a fallback', 'pools: { a: { backends: [http://127.0.0.1:1], fallback: z } }', 'pools.a.fallback: unknown pool "z"'],
  ])('unknown pool in %s', (_what, yaml, line) => {
    expect(linesOfYaml(yaml)).toEqual([line])
  })

  test('a pool named twice in one split', () => {
    expect(linesOfYaml(routes('  - { name: r, split: [{ pool: a, weight: 1 }, { pool: a, weight: 2 }] }'))).toEqual([
      'routes[0].split[1].pool: pool "a" is already in the split (split[0])',
    ])
  })
})

describe('fallback cycles', () => {
  test('a cycle is named once, with its members in order', () => {
    const yaml = `pools:
  a: { backends: [http://127.0.0.1:1], fallback: b }
  b: { backends: [http://127.0.0.1:2], fallback: c }
  c: { backends: [http://127.0.0.1:3], fallback: a }
  d: { backends: [http://127.0.0.1:4], fallback: a }
`
    expect(linesOfYaml(yaml)).toEqual(['pools.a.fallback: fallback cycle: a → b → c → a'])
  })

  test('a pool that falls back to itself', () => {
    expect(linesOfYaml('pools: { a: { backends: [http://127.0.0.1:1], fallback: a } }')).toEqual([
      'pools.a.fallback: fallback cycle: a → a',
    ])
  })

  test('a chain without a cycle is fine', () => {
    const yaml = 'pools: { a: { backends: [http://127.0.0.1:1], fallback: b }, b: { backends: [http://127.0.0.1:2], fallback: c }, c: { backends: [http://127.0.0.1:3] } }'
    expect(parseConfigText(yaml).pools.map((p) => p.fallback)).toEqual(['b', 'c', undefined])
  })
})

describe('routes', () => {
  test('duplicate route names', () => {
    expect(linesOfYaml(routes('  - { name: r, pool: a }\n  - { name: s, pool: a }\n  - { name: r, pool: b }'))).toEqual([
      'routes[2].name: duplicate route name "r" (also routes[0])',
    ])
  })

  test('a route needs exactly one of pool and split', () => {
    expect(linesOfYaml(routes('  - { name: r }'))).toEqual(['routes[0]: needs pool, split, respond or redirect (where matching requests go)'])
    expect(linesOfYaml(routes('  - { name: r, pool: a, split: [{ pool: b, weight: 1 }] }'))).toEqual([
      'routes[0]: use pool or split, not both',
    ])
  })

  test('more than one of path, pathExact, pathRegex', () => {
    expect(linesOfYaml(routes('  - { name: r, pool: a, match: { path: /a, pathRegex: ^/a } }'))).toEqual([
      'routes[0].match: use only one of path, pathExact, pathRegex (found path, pathRegex)',
    ])
  })

  test('a route without conditions matches everything and is allowed', () => {
    expect(parseConfigText(routes('  - { name: r, pool: a }')).routes[0]!.match).toEqual({})
  })

  test('rewritePrefix without path', () => {
    expect(linesOfYaml(routes('  - { name: r, pool: a, match: { pathExact: /a }, rewritePrefix: /b }'))).toEqual([
      'routes[0].rewritePrefix: needs match.path (the prefix it replaces)',
    ])
  })

  test('paths must start with a slash (problems come in document order)', () => {
    expect(linesOfYaml(routes('  - { name: r, pool: a, match: { path: api }, rewritePrefix: v1 }'))).toEqual([
      'routes[0].match.path: must start with "/"',
      'routes[0].rewritePrefix: must be "" or start with "/"',
    ])
  })

  test('regexes that do not compile', () => {
    const lines = linesOfYaml(
      routes('  - { name: r, pool: a, match: { pathRegex: "^/(a", headers: { x-v: { regex: "[" }, x-w: { regex: "^ok$" } } } }'),
    )
    expect(lines).toEqual([
      expect.stringMatching(/^routes\[0\]\.match\.pathRegex: Invalid regular expression: .*Unterminated group/),
      expect.stringMatching(/^routes\[0\]\.match\.headers\.x-v\.regex: Invalid regular expression: /),
    ])
  })

  test('a header condition needs exactly one of regex and present', () => {
    expect(linesOfYaml(routes('  - { name: r, pool: a, match: { headers: { x-a: {}, x-b: { regex: a, present: true } } } }'))).toEqual([
      'routes[0].match.headers.x-a: needs exactly one of regex or present',
      'routes[0].match.headers.x-b: needs exactly one of regex or present',
    ])
  })

  test('invalid header names, methods and hosts', () => {
    expect(
      linesOfYaml(
        routes(
          '  - { name: r, pool: a, override: "x pool", match: { host: "a b.com", methods: ["GET POST"] }, headers: { response: { remove: ["bad header"] } } }',
        ),
      ),
    ).toEqual([
      'routes[0].override: "x pool" is not a valid header name',
      'routes[0].match.host: "a b.com" must be a host name, or *.domain for a wildcard',
      'routes[0].match.methods[0]: "GET POST" is not a valid method',
      'routes[0].headers.response.remove[0]: "bad header" is not a valid header name',
    ])
  })

  test('a host with a port could never match', () => {
    expect(linesOfYaml(routes('  - { name: r, pool: a, match: { host: "api.example.com:8080" } }\n  - { name: s, pool: a, match: { host: "[::1]:80" } }'))).toEqual([
      'routes[0].match.host: "api.example.com:8080" must not include a port: matching ignores the port',
      'routes[1].match.host: "[::1]:80" must not include a port: matching ignores the port',
    ])
    expect(parseConfigText(routes('  - { name: r, pool: a, match: { host: "[::1]" } }')).routes[0]!.match.host).toBe('[::1]')
  })

  test('header values set by a route cannot carry line breaks', () => {
    expect(linesOfYaml(routes('  - { name: r, pool: a, headers: { request: { set: { x-a: "${V}" } } } }'), { V: 'a\r\nx-admin: 1' })).toEqual([
      'routes[0].headers.request.set.x-a: value must not contain CR, LF or NUL',
    ])
  })

  test('a rate limit window of 0', () => {
    expect(linesOfYaml(routes('  - { name: r, pool: a, rateLimit: { max: 1, window: 0s } }'))).toEqual([
      'routes[0].rateLimit.window: must be longer than 0',
    ])
  })

  test('invalid route and pool names', () => {
    expect(linesOfYaml('pools: { "a b": { backends: [http://127.0.0.1:1] } }\nroutes: [{ name: "-r", pool: "a b" }]')).toEqual([
      'pools["a b"]: invalid pool name "a b": names may contain letters, digits, ".", "_" and "-", and start with a letter or digit',
      'routes[0].name: invalid route name "-r": names may contain letters, digits, ".", "_" and "-", and start with a letter or digit',
    ])
  })
})

describe('backends and weights', () => {
  test('a pool with no backends', () => {
    expect(linesOfYaml('pools: { a: { backends: [] } }')).toEqual(['pools.a.backends: pool has no backends'])
  })

  test.each([
    ['not a URL', 'not a url', 'pools.a.backends[0]: invalid URL "not a url"'],
    ['not http(s)', 'ftp://127.0.0.1:21', 'pools.a.backends[0]: "ftp://127.0.0.1:21" must be an http:// or https:// URL'],
    [
      'with a path',
      'http://127.0.0.1:1/api',
      'pools.a.backends[0]: "http://127.0.0.1:1/api" must be an origin (scheme://host:port) without a path, query or fragment; use rewritePrefix on the route for paths',
    ],
    [
      'with a query',
      'http://127.0.0.1:1?x=1',
      'pools.a.backends[0]: "http://127.0.0.1:1?x=1" must be an origin (scheme://host:port) without a path, query or fragment; use rewritePrefix on the route for paths',
    ],
    ['with credentials', 'http://user:pw@127.0.0.1:1', 'pools.a.backends[0]: "127.0.0.1:1" backend URL must not contain credentials'],
  ])('a backend URL %s', (_what, url, line) => {
    expect(linesOfYaml(`pools: { a: { backends: ["${url}"] } }`)).toEqual([line])
  })

  test('backend URLs are reduced to their origin', () => {
    const settings = parseConfigText('pools: { a: { backends: ["HTTP://Example.COM:80/", "https://10.0.0.1:8443"] } }')
    expect(settings.pools[0]!.backends.map((b) => b.url)).toEqual(['http://example.com', 'https://10.0.0.1:8443'])
  })

  test('the same backend twice in a pool', () => {
    expect(linesOfYaml('pools: { a: { backends: [http://127.0.0.1:1, "http://127.0.0.1:1/"] } }')).toEqual([
      'pools.a.backends[1]: duplicate backend http://127.0.0.1:1 (also pools.a.backends[0])',
    ])
  })

  test('negative and non-integer weights', () => {
    expect(
      linesOfYaml(
        `${BASE_POOLS.replace('[http://127.0.0.1:9002]', '[{ url: http://127.0.0.1:9002, weight: -1 }, { url: http://127.0.0.1:9003, weight: 1.5 }]')}routes:\n  - { name: r, split: [{ pool: a, weight: -5 }, { pool: b, weight: 0.5 }] }`,
      ),
    ).toEqual([
      'pools.b.backends[0].weight: must be at least 0',
      'pools.b.backends[1].weight: must be an integer',
      'routes[0].split[0].weight: must be at least 0',
      'routes[0].split[1].weight: must be an integer',
    ])
  })

  test('all weights zero', () => {
    expect(
      linesOfYaml(
        `pools:\n  a: { backends: [{ url: http://127.0.0.1:1, weight: 0 }, { url: http://127.0.0.1:2, weight: 0 }] }\n  b: { backends: [http://127.0.0.1:3] }\nroutes:\n  - { name: r, split: [{ pool: a, weight: 0 }, { pool: b, weight: 0 }] }`,
      ),
    ).toEqual(['pools.a.backends: all backend weights are 0: no backend can receive traffic', 'routes[0].split: all split weights are 0: no pool can receive traffic'])
  })

  test('weight 0 on some backends drains them and is allowed', () => {
    const settings = parseConfigText('pools: { a: { backends: [{ url: http://127.0.0.1:1, weight: 0 }, http://127.0.0.1:2] } }')
    expect(settings.pools[0]!.backends.map((b) => b.weight)).toEqual([0, 1])
  })

  test('weights checked on objects given to normalizeConfig directly', async () => {
    const { linesOfObject } = await import('./problem-lines.js')
    expect(linesOfObject({ pools: { a: { backends: [{ url: 'http://127.0.0.1:1', weight: -2 }] } } })).toEqual([
      'pools.a.backends[0].weight: must be at least 0',
    ])
  })

  test('malformed expectStatus', () => {
    expect(linesOfYaml('pools: { a: { backends: [http://127.0.0.1:1], healthCheck: { expectStatus: "200-", path: health } } }')).toEqual([
      'pools.a.healthCheck.expectStatus: "200-" must be status codes like 200, 200-399 or 200,204,300-399',
      'pools.a.healthCheck.path: must start with "/"',
    ])
    expect(linesOfYaml('pools: { a: { backends: [http://127.0.0.1:1], healthCheck: { expectStatus: 399-200 } } }')).toEqual([
      'pools.a.healthCheck.expectStatus: "399-200" is not a range of status codes 100-599',
    ])
  })
})

describe('jwt', () => {
  test('jwt on a route with no top-level jwt section', () => {
    expect(linesOfYaml(routes('  - { name: r, pool: a, jwt: true }'))).toEqual([
      'routes[0].jwt: needs the top-level jwt section (the token verifier), or issuers naming jwtIssuers',
    ])
  })

  test('jwt:CLAIM keys with no jwt section', () => {
    const yaml = `pools:\n  a: { backends: [http://127.0.0.1:1], algorithm: consistent-hash, hashOn: "jwt:tenant" }\nroutes:\n  - { name: r, pool: a, sticky: "jwt:sub", rateLimit: { max: 1, window: 1s, key: "jwt:sub" } }`
    expect(linesOfYaml(yaml)).toEqual([
      'pools.a.hashOn: a jwt: key needs the top-level jwt section (the token verifier)',
      'routes[0].sticky: a jwt: key needs the top-level jwt section (the token verifier)',
      'routes[0].rateLimit.key: a jwt: key needs the top-level jwt section (the token verifier)',
    ])
  })

  test.each([
    ['no key material', 'jwt: { algorithms: [HS256] }', 'jwt: needs one of secret, publicKey or jwksUrl'],
    [
      'two kinds of key material',
      'jwt: { algorithms: [RS256], publicKey: k.pem, jwksUrl: "https://a/jwks.json" }',
      'jwt: use only one of secret, publicKey, jwksUrl (found publicKey, jwksUrl)',
    ],
    ['an empty secret', 'jwt: { algorithms: [HS256], secret: "${JWT_SECRET:-}" }', 'jwt.secret: must not be empty'],
    ['none', 'jwt: { algorithms: [HS256, none], secret: "0123456789abcdef0123456789abcdef" }', 'jwt.algorithms[1]: "none" is not allowed: it would accept unsigned tokens'],
    ['HS with a public key', 'jwt: { algorithms: [HS256], publicKey: k.pem }', 'jwt.algorithms: HS256 verify with a shared secret, not publicKey'],
    ['HS with a JWKS URL', 'jwt: { algorithms: [HS384], jwksUrl: "https://a/jwks.json" }', 'jwt.algorithms: HS384 verify with a shared secret, not jwksUrl'],
    [
      'asymmetric with a secret',
      'jwt: { algorithms: [RS256, EdDSA], secret: "0123456789abcdef0123456789abcdef" }',
      'jwt.algorithms: RS256, EdDSA verify with publicKey or jwksUrl, not a secret',
    ],
    ['an empty allowlist', 'jwt: { algorithms: [], secret: "0123456789abcdef0123456789abcdef" }', 'jwt.algorithms: must not be empty'],
    ['a JWKS URL that is not http(s)', 'jwt: { algorithms: [ES256], jwksUrl: "file:///etc/jwks.json" }', 'jwt.jwksUrl: "file:///etc/jwks.json" must be an http:// or https:// URL'],
  ])('%s', (_what, yaml, line) => {
    expect(linesOfYaml(yaml)).toEqual([line])
  })

  test('an override header that is also a forwarded-claim header', () => {
    expect(
      linesOfYaml(`${JWT}${routes('  - { name: r, split: [{ pool: a, weight: 1 }, { pool: b, weight: 1 }], override: X-User, jwt: { forwardClaims: { sub: x-user } } }')}`),
    ).toEqual(['routes[0].override: header "x-user" is also set from claim "sub" (jwt.forwardClaims); use another header'])
  })

  test('a valid jwt route', () => {
    const settings = parseConfigText(`${JWT}${routes('  - { name: r, pool: a, jwt: { required: false, claims: { scope: read, admin: true }, forwardClaims: { sub: X-User-Id } } }')}`)
    expect(settings.routes[0]!.jwt).toEqual({ required: false, claims: { scope: 'read', admin: true }, forwardClaims: { sub: 'x-user-id' } })
  })
})

describe('listeners and stores', () => {
  test('port clashes between listeners', () => {
    expect(linesOfYaml('server: { port: 8080, tls: { port: 8080, certificates: [{ cert: c, key: k }] } }\nadmin: { port: 8080 }')).toEqual([
      "server.tls.port: must differ from server.port (8080)",
      "admin.port: must differ from the gateway's own ports (8080 is already used)",
    ])
  })

  test('requireClientCert without clientCa', () => {
    expect(linesOfYaml('server: { tls: { port: 8443, requireClientCert: true, certificates: [{ cert: c, key: k }] } }')).toEqual([
      'server.tls.requireClientCert: needs clientCa (the CA client certificates must chain to)',
    ])
  })

  test('trusted proxies must be addresses or CIDR blocks', () => {
    expect(linesOfYaml('server: { trustedProxies: [10.0.0.0/8, "::1", 192.168.1.1, localhost, 10.0.0.0/33] }')).toEqual([
      'server.trustedProxies[3]: "localhost" must be an IP address or CIDR block',
      'server.trustedProxies[4]: "10.0.0.0/33" must be an IP address or CIDR block',
    ])
  })

  test('redis URLs and cache sizes', () => {
    expect(linesOfYaml('rateLimit: { store: redis, redis: "http://x" }\ncache: { maxSize: 1mb, maxEntrySize: 2mb }')).toEqual([
      'rateLimit.redis: "http://x" must be a redis:// or rediss:// URL',
      'cache.maxEntrySize: must not exceed cache.maxSize (1048576 bytes)',
    ])
  })
})

describe('rate-limit claim keys', () => {
  it('refuses rateLimit.key jwt:CLAIM on a route without jwt', async () => {
    const { normalizeConfig, ConfigError } = await import('../../src/config/index.js')
    const raw = {
      jwt: { algorithms: ['HS256'], secret: 'x'.repeat(32) },
      pools: { p: { backends: ['http://127.0.0.1:9'] } },
      routes: [{ name: 'r', match: { path: '/' }, pool: 'p', rateLimit: { max: 1, window: '1m', key: 'jwt:sub' } }],
    }
    let err: unknown
    try {
      normalizeConfig(raw)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as InstanceType<typeof ConfigError>).lines().join('\n')).toContain('routes[0].rateLimit.key: "jwt:sub" needs `jwt` on this route')
    expect(() => normalizeConfig({ ...raw, routes: [{ ...raw.routes[0], jwt: true }] })).not.toThrow()
  })
})
