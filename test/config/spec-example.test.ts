import { describe, expect, test } from 'vitest'
import { parseConfigText } from '../../src/config/index.js'

// The example of the interface contract (SPEC section 2), verbatim: every key it shows is valid.
const SPEC_EXAMPLE = `server:
  host: 0.0.0.0            # default
  port: 8080               # default
  trustedProxies: []       # IPs/CIDRs whose X-Forwarded-For is believed for the client IP
  bodyLimit: 10mb
  headersTimeout: 10s      # a client must finish its header block within this
  requestTimeout: 60s
  shutdownTimeout: 30s
  maxConnections: 10000
  workers: 1               # or auto: one worker thread per core, sharing the listeners
  tls:                     # optional: TLS termination on a second listener
    port: 8443
    minVersion: TLSv1.2
    http2: true            # HTTP/2 over ALPN, HTTP/1.1 still served
    redirectHttp: false    # true: plain-HTTP requests get 308 to https
    clientCa: certs/clients-ca.pem   # optional mutual TLS
    requireClientCert: false
    certificates:          # the first is the default; others chosen by SNI
      - { cert: certs/default.pem, key: certs/default-key.pem }
      - { cert: certs/api.pem, key: certs/api-key.pem, serverNames: [api.example.com, "*.example.com"] }

admin:                     # or \`admin: false\`
  host: 127.0.0.1
  port: 9901
  token: \${SWITCHYARD_ADMIN_TOKEN:-}   # when non-empty, every admin call but GET /health needs \`Authorization: Bearer <token>\`

jwt:                       # verifier used by routes that set \`jwt\`
  algorithms: [HS256]      # allowlist, required
  secret: \${JWT_SECRET}    # HS*; or \`publicKey: keys/jwt.pem\`; or \`jwksUrl: https://…/jwks.json\`
  issuer: https://auth.example.com     # optional; enforced when set
  audience: api                        # optional; enforced when set
  clockTolerance: 5s

rateLimit:
  store: memory            # or redis (shared by all workers and all gateway instances)
  redis: redis://127.0.0.1:6379

cache:
  store: memory            # or redis (entries shared by gateway instances)
  redis: redis://127.0.0.1:6379
  maxSize: 64mb            # total bytes held
  maxEntrySize: 1mb        # larger responses are streamed through, not stored

pools:
  users-v1:
    algorithm: round-robin # round-robin | weighted-round-robin | least-connections |
                           # least-response-time | ip-hash | consistent-hash | random |
                           # power-of-two-choices | resource-based
    hashOn: header:x-user-id   # consistent-hash key: ip | path | header:NAME | cookie:NAME | query:NAME | jwt:CLAIM
    backends:
      - http://127.0.0.1:9001                 # shorthand, weight 1
      - { url: http://127.0.0.1:9002, weight: 3 }
    slowStart: 30s         # a backend that becomes available ramps up over this window
    stickySession: { cookie: sy_backend, ttl: 1h }   # session persistence: the gateway pins a client to a backend by cookie
    tls: { ca: certs/internal-ca.pem, servername: users.internal, rejectUnauthorized: true }   # for https:// backends
    healthCheck:           # active checks; absent = none
      path: /health
      interval: 5s
      timeout: 1s
      healthyThreshold: 2
      unhealthyThreshold: 3
      expectStatus: 200-399
    circuitBreaker:        # per backend; passive health from real traffic
      consecutiveFailures: 5
      openDuration: 30s    # then half-open
      halfOpenRequests: 1
      maxEjectionPercent: 50   # never eject more than this share of a pool by failures
    retry:
      attempts: 1          # extra tries, each on a different backend
      on: [connect-error, reset, 502, 503, 504]   # reset/5xx retried only for idempotent methods
    timeouts:
      connect: 2s
      response: 30s        # exceeded → 504
    fallback: users-static # used when no backend here can take the request (graceful degradation)

  users-v2:
    backends: [http://127.0.0.1:9101]
  users-static:
    backends: [http://127.0.0.1:9201]

routes:                    # checked in order; the first match wins
  - name: users
    match:                 # every condition given must hold
      path: /api/users     # prefix on segment boundary: /api/users, /api/users/7, not /api/usersx
      # pathExact: /login   |   pathRegex: ^/v[0-9]+/items$
      host: api.example.com        # exact or *.example.com
      methods: [GET, POST]
      headers:
        x-tenant: acme             # exact value; or { regex: "^ac" }; or { present: true }
    rewritePrefix: /users  # the matched \`path\` prefix is replaced by this ("" strips it)
    split:                 # or \`pool: users-v1\` for a single pool
      - { pool: users-v1, weight: 90 }
      - { pool: users-v2, weight: 10 }
    sticky: header:x-user-id   # keeps one client on one side of the split: header:NAME | cookie:NAME | ip | jwt:CLAIM
    override: x-switchyard-pool  # a request with this header naming a pool of the split goes there
    jwt:                   # or \`jwt: true\`
      required: true
      claims: { scope: users:read }   # each claim must equal, or (for arrays/space lists) contain, the value
      forwardClaims: { sub: x-user-id }  # claim → upstream request header (a client-sent header of that name is dropped)
    rateLimit:
      max: 100
      window: 1m
      key: ip              # ip | header:NAME | jwt:CLAIM | route
      onStoreError: allow  # or deny: what to do while the shared store is unreachable
    cache:                 # GET and HEAD only; RFC 9111 shared-cache rules
      ttl: 30s             # freshness when the upstream gives none
      staleWhileRevalidate: 10s
      staleIfError: 5m
    mirror: { pool: users-v2, percent: 5 }   # shadow copies, responses discarded
    websocket: false
    headers:
      request: { set: { x-gateway: switchyard }, remove: [x-debug] }
      response: { set: {}, remove: [server] }
`

describe('the SPEC example', () => {
  test('is a valid configuration', () => {
    const settings = parseConfigText(SPEC_EXAMPLE, { env: { JWT_SECRET: 'a-secret-that-is-at-least-32-bytes-long' }, baseDir: '/etc/switchyard' })
    expect(settings.pools.map((p) => p.name)).toEqual(['users-v1', 'users-v2', 'users-static'])
    expect(settings.pools[0]).toMatchObject({
      algorithm: 'round-robin',
      hashOn: { kind: 'header', name: 'x-user-id' },
      backends: [
        { url: 'http://127.0.0.1:9001', weight: 1 },
        { url: 'http://127.0.0.1:9002', weight: 3 },
      ],
      slowStart: 30_000,
      stickySession: { cookie: 'sy_backend', ttl: 3_600_000 },
      tls: { ca: '/etc/switchyard/certs/internal-ca.pem', servername: 'users.internal', rejectUnauthorized: true },
      healthCheck: { path: '/health', interval: 5000, timeout: 1000, healthyThreshold: 2, unhealthyThreshold: 3, expectStatus: [[200, 399]] },
      circuitBreaker: { consecutiveFailures: 5, openDuration: 30_000, halfOpenRequests: 1, maxEjectionPercent: 50 },
      retry: { attempts: 1, on: ['connect-error', 'reset', 502, 503, 504], budget: 0.2 },
      timeouts: { connect: 2000, response: 30_000 },
      fallback: 'users-static',
    })
    expect(settings.server.tls).toMatchObject({
      port: 8443,
      clientCa: '/etc/switchyard/certs/clients-ca.pem',
      certificates: [
        { cert: '/etc/switchyard/certs/default.pem', key: '/etc/switchyard/certs/default-key.pem', serverNames: [] },
        { cert: '/etc/switchyard/certs/api.pem', key: '/etc/switchyard/certs/api-key.pem', serverNames: ['api.example.com', '*.example.com'] },
      ],
    })
    expect(settings.jwt).toMatchObject({ algorithms: ['HS256'], issuer: 'https://auth.example.com', audience: 'api', clockTolerance: 5000 })
    expect(settings.routes[0]).toMatchObject({
      name: 'users',
      match: { path: '/api/users', host: 'api.example.com', methods: ['GET', 'POST'], headers: { 'x-tenant': { kind: 'exact', value: 'acme' } } },
      rewritePrefix: '/users',
      split: [
        { pool: 'users-v1', weight: 90 },
        { pool: 'users-v2', weight: 10 },
      ],
      sticky: { kind: 'header', name: 'x-user-id' },
      override: 'x-switchyard-pool',
      jwt: { required: true, claims: { scope: 'users:read' }, forwardClaims: { sub: 'x-user-id' } },
      rateLimit: { max: 100, window: 60_000, key: { kind: 'ip' }, onStoreError: 'allow' },
      cache: { ttl: 30_000, staleWhileRevalidate: 10_000, staleIfError: 300_000 },
      mirror: { pool: 'users-v2', percent: 5, maxBodySize: 1024 * 1024 },
      websocket: false,
      headers: { request: { set: { 'x-gateway': 'switchyard' }, remove: ['x-debug'] }, response: { set: {}, remove: ['server'] } },
    })
  })
})
