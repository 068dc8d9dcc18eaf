import { resolve } from 'node:path'
import { describe, expect, test } from 'vitest'
import { normalizeConfig, parseConfigText } from '../../src/config/index.js'

describe('defaults', () => {
  test('an empty file gives a complete configuration with no pools and no routes', () => {
    expect(parseConfigText('', { env: {} })).toEqual({
      server: {
        host: '0.0.0.0',
        port: 8080,
        trustedProxies: [],
        bodyLimit: 10 * 1024 * 1024,
        headersTimeout: 10_000,
        requestTimeout: 60_000,
        shutdownTimeout: 30_000,
        shutdownDelay: 0,
        maxConnections: 10_000,
        workers: 1,
        maxHeaderSize: 16 * 1024,
        maxUrlLength: 8 * 1024,
      },
      admin: { host: '127.0.0.1', port: 9901, token: '' },
      rateLimit: { store: 'memory', redis: 'redis://127.0.0.1:6379' },
      cache: { store: 'memory', redis: 'redis://127.0.0.1:6379', maxSize: 64 * 1024 * 1024, maxEntrySize: 1024 * 1024, targetedField: 'Switchyard-Cache-Control' },
      log: { level: 'info', access: { enabled: true, sample: 1 } },
      pools: [],
      routes: [],
      streams: [],
    })
  })

  test('a pool gets every default; the circuit breaker is on, health checks are off', () => {
    const settings = parseConfigText('pools: { a: { backends: [http://127.0.0.1:9001] } }')
    expect(settings.pools).toEqual([
      {
        name: 'a',
        algorithm: 'round-robin',
        hashOn: { kind: 'ip' },
        backends: [{ url: 'http://127.0.0.1:9001', weight: 1 }],
        slowStart: 0,
        circuitBreaker: {
          consecutiveFailures: 5,
          openDuration: 30_000,
          halfOpenRequests: 1,
          maxEjectionPercent: 50,
          maxOpenDuration: 300_000,
          failureRate: { threshold: 0.5, minRequests: 20, window: 10_000 },
        },
        retry: { attempts: 1, on: ['connect-error', 'reset', 502, 503, 504], budget: 0.2, backoff: { base: 25, max: 250 }, honorRetryAfter: true },
        // total: (1 + attempts) × (connect + response) + attempts × backoff.max
        timeouts: { connect: 2000, response: 30_000, total: 64_250, idle: 4000 },
        panicThreshold: 0,
        maxPending: 1024,
        queueTimeout: 2000,
      },
    ])
    expect(settings.pools[0]!.healthCheck).toBeUndefined()
  })

  test('healthCheck: {} enables checks with every default', () => {
    const settings = parseConfigText('pools: { a: { backends: [http://127.0.0.1:9001], healthCheck: {} } }')
    expect(settings.pools[0]!.healthCheck).toEqual({
      type: 'http',
      method: 'GET',
      headers: {},
      path: '/health',
      interval: 5000,
      timeout: 1000,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
      expectStatus: [[200, 399]],
    })
  })

  test.each([
    [200, [[200, 200]]],
    ['200-399', [[200, 399]]],
    ['200,204,300-399', [[200, 200], [204, 204], [300, 399]]],
    ['200, 204 - 206', [[200, 200], [204, 206]]],
  ])('expectStatus %j becomes ranges', (expectStatus, ranges) => {
    const settings = normalizeConfig({ pools: { a: { backends: ['http://127.0.0.1:1'], healthCheck: { expectStatus } } } })
    expect(settings.pools[0]!.healthCheck!.expectStatus).toEqual(ranges)
  })

  test('circuitBreaker: false disables the breaker; partial objects keep the other defaults', () => {
    const settings = parseConfigText(
      'pools:\n  a: { backends: [http://127.0.0.1:1], circuitBreaker: false }\n  b: { backends: [http://127.0.0.1:2], circuitBreaker: { openDuration: 5s } }',
    )
    expect(settings.pools[0]!.circuitBreaker).toBeUndefined()
    expect(settings.pools[1]!.circuitBreaker).toEqual({
      consecutiveFailures: 5,
      openDuration: 5000,
      halfOpenRequests: 1,
      maxEjectionPercent: 50,
      maxOpenDuration: 300_000,
      failureRate: { threshold: 0.5, minRequests: 20, window: 10_000 },
    })
  })

  test('stickySession and pool tls defaults', () => {
    const settings = parseConfigText('pools: { a: { backends: [https://10.0.0.1], stickySession: {}, tls: { servername: users.internal } } }')
    expect(settings.pools[0]).toMatchObject({
      stickySession: { cookie: 'sy_backend', ttl: 3_600_000 },
      tls: { servername: 'users.internal', rejectUnauthorized: true },
    })
  })

  test('a route gets every default; a single pool becomes one split entry of weight 1', () => {
    const settings = parseConfigText('pools: { a: { backends: [http://127.0.0.1:1] } }\nroutes: [{ name: r, pool: a }]')
    expect(settings.routes).toEqual([
      {
        name: 'r',
        match: {},
        split: [{ pool: 'a', weight: 1 }],
        stickyCookie: { ttl: 30 * 24 * 3_600_000 },
        websocket: false,
        headers: { request: { set: {}, remove: [] }, response: { set: {}, remove: [] } },
      },
    ])
  })

  test('route features get their defaults when given', () => {
    const settings = parseConfigText(
      [
        'jwt: { algorithms: [HS256], secret: "0123456789abcdef0123456789abcdef" }',
        'pools: { a: { backends: [http://127.0.0.1:1] }, s: { backends: [http://127.0.0.1:2] } }',
        'routes: [{ name: r, pool: a, jwt: true, cache: {}, rateLimit: { max: 5, window: 1s }, mirror: { pool: s } }]',
      ].join('\n'),
    )
    expect(settings.routes[0]).toMatchObject({
      jwt: { required: true, claims: {}, forwardClaims: {} },
      cache: { ttl: 0, staleWhileRevalidate: 0, staleIfError: 0, staleIfDisconnected: 60_000, storeSetCookie: false },
      rateLimit: { max: 5, window: 1000, key: { kind: 'ip' }, onStoreError: 'allow' },
      mirror: { pool: 's', percent: 100, maxBodySize: 1024 * 1024 },
    })
  })

  test('server tls defaults', () => {
    const settings = parseConfigText('server: { tls: { port: 8443, certificates: [{ cert: /etc/c.pem, key: /etc/k.pem }] } }')
    expect(settings.server.tls).toEqual({
      port: 8443,
      minVersion: 'TLSv1.2',
      http2: true,
      redirectHttp: false,
      requireClientCert: false,
      certificates: [{ cert: '/etc/c.pem', key: '/etc/k.pem', serverNames: [] }],
    })
  })

  test('admin: false disables the admin listener; admin: true keeps its defaults', () => {
    expect(parseConfigText('admin: false').admin).toBe(false)
    expect(parseConfigText('admin: true').admin).toEqual({ host: '127.0.0.1', port: 9901, token: '' })
    expect(parseConfigText('admin: { port: 9999 }').admin).toEqual({ host: '127.0.0.1', port: 9999, token: '' })
  })

  test('jwt clockTolerance defaults to 0', () => {
    expect(parseConfigText('jwt: { algorithms: [RS256], jwksUrl: "https://auth.example.com/jwks.json" }').jwt).toEqual({
      algorithms: ['RS256'],
      jwksUrl: 'https://auth.example.com/jwks.json',
      clockTolerance: 0,
    })
  })
})

describe('normalisation', () => {
  test('names are lower-cased where matching is case-insensitive; methods upper-cased', () => {
    const settings = parseConfigText(
      [
        'jwt: { algorithms: [HS256], secret: "0123456789abcdef0123456789abcdef" }',
        'server: { tls: { port: 8443, certificates: [{ cert: /c, key: /k, serverNames: [API.Example.com, "*.Example.COM"] }] } }',
        'pools: { a: { backends: [http://127.0.0.1:1], algorithm: consistent-hash, hashOn: "header:X-Tenant" } }',
        'routes:',
        '  - name: r',
        '    pool: a',
        '    match: { host: "*.Example.COM", methods: [get, Post, GET], headers: { X-Tenant: acme, X-Beta: { present: true }, X-V: { regex: "^2" } } }',
        '    sticky: "cookie:SessionId"',
        '    override: X-Pool',
        '    jwt: { forwardClaims: { sub: X-User-Id } }',
        '    headers: { request: { set: { X-Gateway: switchyard }, remove: [X-Debug, x-debug] }, response: { remove: [Server] } }',
      ].join('\n'),
    )
    const route = settings.routes[0]!
    expect(settings.server.tls!.certificates[0]!.serverNames).toEqual(['api.example.com', '*.example.com'])
    expect(settings.pools[0]!.hashOn).toEqual({ kind: 'header', name: 'x-tenant' })
    expect(route.match).toEqual({
      host: '*.example.com',
      methods: ['GET', 'POST'],
      headers: {
        'x-tenant': { kind: 'exact', value: 'acme' },
        'x-beta': { kind: 'present', present: true },
        'x-v': { kind: 'regex', source: '^2' },
      },
    })
    expect(route.sticky).toEqual({ kind: 'cookie', name: 'SessionId' })
    expect(route.override).toBe('x-pool')
    expect(route.jwt!.forwardClaims).toEqual({ sub: 'x-user-id' })
    expect(route.headers).toEqual({
      request: { set: { 'x-gateway': 'switchyard' }, remove: ['x-debug'] },
      response: { set: {}, remove: ['server'] },
    })
  })

  test.each([
    ['ip', { kind: 'ip' }],
    ['path', { kind: 'path' }],
    ['route', { kind: 'route' }],
    ['header:X-Api-Key', { kind: 'header', name: 'x-api-key' }],
    ['cookie:sid', { kind: 'cookie', name: 'sid' }],
    ['query:tenant', { kind: 'query', name: 'tenant' }],
    ['jwt:sub', { kind: 'jwt', claim: 'sub' }],
  ])('key source %s', (text, source) => {
    const settings = normalizeConfig({
      jwt: { algorithms: ['HS256'], secret: '0123456789abcdef0123456789abcdef' },
      pools: { a: { backends: ['http://127.0.0.1:1'] } },
      routes: [{ name: 'r', pool: 'a', jwt: true, rateLimit: { max: 1, window: '1s', key: text } }],
    })
    expect(settings.routes[0]!.rateLimit!.key).toEqual(source)
  })

  test('relative file paths are resolved against the configuration file directory', () => {
    const settings = parseConfigText(
      [
        'server: { tls: { port: 8443, clientCa: certs/ca.pem, certificates: [{ cert: certs/c.pem, key: /abs/k.pem }] } }',
        'jwt: { algorithms: [RS256], publicKey: ../keys/jwt.pem }',
        'pools: { a: { backends: [https://10.0.0.1], tls: { ca: internal-ca.pem } } }',
      ].join('\n'),
      { baseDir: '/etc/switchyard' },
    )
    expect(settings.server.tls).toMatchObject({
      clientCa: '/etc/switchyard/certs/ca.pem',
      certificates: [{ cert: '/etc/switchyard/certs/c.pem', key: '/abs/k.pem' }],
    })
    expect(settings.jwt!.publicKey).toBe('/etc/keys/jwt.pem')
    expect(settings.pools[0]!.tls!.ca).toBe('/etc/switchyard/internal-ca.pem')
  })

  test('without a baseDir, relative paths resolve against the working directory', () => {
    const settings = normalizeConfig({ jwt: { algorithms: ['ES256'], publicKey: 'k.pem' } })
    expect(settings.jwt!.publicKey).toBe(resolve('k.pem'))
  })

  test('retry.on keeps conditions and status codes, without duplicates', () => {
    const settings = parseConfigText('pools: { a: { backends: [http://127.0.0.1:1], retry: { attempts: 3, on: [timeout, 500, 599, timeout] } } }')
    expect(settings.pools[0]!.retry).toMatchObject({ attempts: 3, on: ['timeout', 500, 599], budget: 0.2 })
  })

  test('numbers written for string fields are taken as strings', () => {
    const settings = parseConfigText(
      'pools: { a: { backends: [http://127.0.0.1:1] } }\nroutes: [{ name: 2024, pool: a, match: { headers: { x-version: 2 } } }]',
    )
    expect(settings.routes[0]!.name).toBe('2024')
    expect(settings.routes[0]!.match.headers).toEqual({ 'x-version': { kind: 'exact', value: '2' } })
  })

  test('the source is kept as an absolute path', () => {
    expect(normalizeConfig({}, { source: 'config/x.yaml' }).source).toBe(resolve('config/x.yaml'))
    expect(normalizeConfig({}).source).toBeUndefined()
  })
})
