/**
 * The schema of the configuration file as users write it (before `${ENV}` substitution is
 * resolved into types, before defaults and normalisation). It is the single source of the
 * published `config/gateway.schema.json`, so descriptions here are what editors show.
 *
 * This module imports nothing relative on purpose: `scripts/write-schema.mjs` loads it straight
 * from the TypeScript source with Node's type stripping, which cannot remap `.js` specifiers.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox'

/** Milliseconds as bare digits or with a unit (ms, s, m, h, d); decimals allowed (`1.5s`). */
export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d)?$'
/** Bytes as bare digits or with a 1024-based unit (b, kb, mb, gb), any letter case. */
export const SIZE_PATTERN = '^[0-9]+(\\.[0-9]+)?\\s*([bB]|[kK][bB]|[mM][bB]|[gG][bB])?$'
/** `ip | path | route | apikey | header:NAME | cookie:NAME | query:NAME | jwt:CLAIM` (apikey: rate-limit keys only). */
export const KEY_SOURCE_PATTERN = '^(ip|path|route|apikey|(header|cookie|query|jwt):.+)$'

export const ALGORITHMS = [
  'round-robin',
  'weighted-round-robin',
  'least-connections',
  'least-response-time',
  'ip-hash',
  'consistent-hash',
  'random',
  'power-of-two-choices',
  'resource-based',
] as const

/** JWS algorithms a verifier may allow (RFC 7518 §3.1, RFC 8037). `none` is never one of them. */
export const JWT_ALGORITHMS = [
  'HS256', 'HS384', 'HS512',
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA',
] as const

export const RETRY_CONDITIONS = ['connect-error', 'reset', 'timeout', '4xx', '5xx'] as const

/**
 * gRPC status codes a pool may retry on (Envoy's `retry_on` names), read from a Trailers-Only
 * answer's grpc-status: the call failed before any message was sent back.
 */
export const GRPC_RETRY_CONDITIONS = ['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable'] as const

/** Upstream protocols of an HTTP pool (SPEC §5). */
export const POOL_PROTOCOLS = ['http1', 'h2', 'h2c'] as const

export const HEALTH_CHECK_TYPES = ['http', 'tcp', 'grpc'] as const

/** pino's levels, lowest first, and `silent` (nothing but the access log, which has no level). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const

const DURATION_MESSAGE = 'must be a duration: milliseconds as a number, or a string like 250ms, 5s, 1m, 1h, 1d'
const SIZE_MESSAGE = 'must be a size: bytes as a number, or a string like 512kb, 1mb, 64mb, 1gb (1024-based)'
const KEY_SOURCE_MESSAGE = 'must be a key source: ip, path, route, header:NAME, cookie:NAME, query:NAME or jwt:CLAIM'

// `errorMessage` is an annotation: the loader uses it for the message of a failed type/pattern
// check, and VS Code's JSON/YAML language services show it instead of a bare regex.
function Duration(description: string) {
  return Type.Unsafe<number | string>({
    type: ['number', 'string'],
    minimum: 0,
    pattern: DURATION_PATTERN,
    description,
    errorMessage: DURATION_MESSAGE,
  })
}

function Size(description: string) {
  return Type.Unsafe<number | string>({
    type: ['number', 'string'],
    minimum: 0,
    pattern: SIZE_PATTERN,
    description,
    errorMessage: SIZE_MESSAGE,
  })
}

function KeySource(description: string) {
  return Type.String({ pattern: KEY_SOURCE_PATTERN, description, errorMessage: KEY_SOURCE_MESSAGE })
}

function StringEnum<T extends readonly string[]>(values: T, description: string) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], description })
}

function Strict<T extends Record<string, TSchema>>(properties: T, description: string) {
  return Type.Object(properties, { additionalProperties: false, description })
}

const Port = (description: string) => Type.Integer({ minimum: 0, maximum: 65535, description })
const FilePath = (description: string) => Type.String({ minLength: 1, description })
const HeaderName = (description: string) => Type.String({ minLength: 1, description })

const TlsCertificate = Strict(
  {
    cert: FilePath('PEM certificate chain; relative paths are resolved against the directory of this file.'),
    key: FilePath('PEM private key; relative paths are resolved against the directory of this file.'),
    serverNames: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'SNI names this certificate answers: exact (api.example.com) or wildcard (*.example.com).',
      }),
    ),
  },
  'A certificate and its key. The first certificate is the default; others are chosen by SNI.',
)

const ServerTls = Strict(
  {
    port: Port('Port of the TLS listener (a second listener next to the plain one).'),
    minVersion: Type.Optional(StringEnum(['TLSv1.2', 'TLSv1.3'] as const, 'Lowest TLS version accepted. Default TLSv1.2.')),
    http2: Type.Optional(Type.Boolean({ description: 'Offer HTTP/2 over ALPN; HTTP/1.1 is still served. Default true.' })),
    redirectHttp: Type.Optional(
      Type.Boolean({ description: 'Answer plain-HTTP requests with 308 to the https URL. Default false.' }),
    ),
    clientCa: Type.Optional(FilePath('PEM CA bundle that client certificates must chain to (mutual TLS).')),
    requireClientCert: Type.Optional(
      Type.Boolean({ description: 'Refuse clients without a valid certificate (needs clientCa). Default false.' }),
    ),
    certificates: Type.Optional(
      Type.Array(TlsCertificate, {
        minItems: 1,
        description: 'Server certificates; the first is the default, others are chosen by SNI. Required unless acme is set.',
      }),
    ),
    acme: Type.Optional(
      Strict(
        {
          directory: Type.String({ minLength: 1, description: 'ACME directory URL (https), e.g. https://acme-v02.api.letsencrypt.org/directory.' }),
          email: Type.String({ minLength: 3, description: 'Contact address of the ACME account.' }),
          domains: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Names of the certificate (the first is its subject); each must reach this gateway on port 80 for HTTP-01.' }),
          storage: Type.String({ minLength: 1, description: 'Directory for the account key, certificate and key (created 0700; keys 0600); relative to this file.' }),
          ca: Type.Optional(FilePath('PEM CA bundle trusted for the ACME directory (a private ACME server such as step-ca). Default: the system trust store.')),
          renewBefore: Type.Optional(Duration('Renew when the certificate expires within this. Default 30d.')),
        },
        'Certificates obtained and renewed over ACME (RFC 8555), HTTP-01 answered on the plain listener.',
      ),
    ),
  },
  'TLS termination on a second listener. Absent: plain HTTP only.',
)

const Server = Strict(
  {
    host: Type.Optional(Type.String({ minLength: 1, description: 'Address the gateway listens on. Default 0.0.0.0.' })),
    port: Type.Optional(Port('Port of the plain-HTTP listener. Default 8080.')),
    trustedProxies: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'IPs or CIDRs whose X-Forwarded-For is believed for the client IP. Default [] (none).',
      }),
    ),
    bodyLimit: Type.Optional(Size('Largest request body; larger requests get 413. Default 10mb.')),
    headersTimeout: Type.Optional(Duration('A client must finish its header block within this. Default 10s.')),
    requestTimeout: Type.Optional(Duration('A client must finish its whole request within this. Default 60s.')),
    shutdownTimeout: Type.Optional(
      Duration('On SIGTERM/SIGINT, in-flight requests may finish for this long. Default 30s.'),
    ),
    shutdownDelay: Type.Optional(
      Duration('On SIGTERM/SIGINT (or POST /api/drain then a signal), time between GET /ready turning 503 and the listeners closing, so outer balancers stop first. Default 0.'),
    ),
    maxConnections: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Most client connections held open at once. Default 10000.' }),
    ),
    workers: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 256 }), Type.Literal('auto')], {
        description:
          'Worker threads sharing the listeners (SO_REUSEPORT), with one set of rate-limit budgets, circuit and health verdicts for the process. "auto": one per core available to the process (cgroup limits respected). Default 1.',
        errorMessage: 'must be a whole number from 1 to 256, or "auto"',
      }),
    ),
    maxHeaderSize: Type.Optional(Size('Largest request header block; larger requests get 431. Default 16kb.')),
    h2c: Type.Optional(
      Type.Boolean({ description: 'HTTP/2 with prior knowledge on the plain listener (gRPC behind an outer TLS terminator); HTTP/1.1 is still served. Upgrade: h2c is never honoured. Default false.' }),
    ),
    maxUrlLength: Type.Optional(Size('Longest request target; longer requests get 414. Default 8kb.')),
    tls: Type.Optional(ServerTls),
  },
  'The client-facing listener.',
)

const Admin = Strict(
  {
    host: Type.Optional(Type.String({ minLength: 1, description: 'Address of the admin listener. Default 127.0.0.1.' })),
    port: Type.Optional(Port('Port of the admin listener. Default 9901.')),
    token: Type.Optional(
      Type.String({
        description:
          'When non-empty, every admin call but GET /health needs `Authorization: Bearer <token>`. Default "" (none).',
      }),
    ),
    allowedHosts: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description:
          'Host header values (name or name:port) the admin listener answers to besides its own address, IP literals and localhost names (DNS-rebinding defence; others get 421); also the Origins it accepts besides its own. Default: none.',
      }),
    ),
  },
  'The admin listener (API, metrics, dashboard).',
)

const Jwt = Strict(
  {
    algorithms: Type.Array(StringEnum(JWT_ALGORITHMS, 'A JWS algorithm.'), {
      minItems: 1,
      description: 'Allowlist of accepted algorithms (required). HS* need `secret`; the others `publicKey` or `jwksUrl`.',
    }),
    secret: Type.Optional(Type.String({ description: 'Shared secret for HS256/HS384/HS512.' })),
    publicKey: Type.Optional(FilePath('PEM public key file for RS*/PS*/ES*/EdDSA; relative to this file.')),
    jwksUrl: Type.Optional(Type.String({ minLength: 1, description: 'JWKS endpoint (https) for RS*/PS*/ES*/EdDSA.' })),
    issuer: Type.Optional(Type.String({ minLength: 1, description: 'Required `iss` claim, enforced when set.' })),
    audience: Type.Optional(Type.String({ minLength: 1, description: 'Required `aud` claim, enforced when set.' })),
    clockTolerance: Type.Optional(Duration('Allowed clock skew for exp/nbf/iat. Default 0.')),
  },
  'The token verifier used by routes that set `jwt`. Exactly one of secret, publicKey, jwksUrl.',
)

const Store = (what: string) =>
  ({
    store: Type.Optional(
      StringEnum(['memory', 'redis'] as const, `Where ${what} live: memory (this process) or redis (shared). Default memory.`),
    ),
    redis: Type.Optional(
      Type.String({ minLength: 1, description: 'Redis URL (redis:// or rediss://). Default redis://127.0.0.1:6379.' }),
    ),
  }) as const

const RateLimitStore = Strict(Store('counters'), 'Where rate-limit counters are kept.')

const CacheStore = Strict(
  {
    ...Store('cache entries'),
    maxSize: Type.Optional(Size('Total bytes held by the memory store. Default 64mb.')),
    maxEntrySize: Type.Optional(
      Size('Larger responses are streamed through, not stored. Default 1mb.'),
    ),
    targetedField: Type.Optional(
      Type.String({
        pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
        description:
          "This gateway's own RFC 9213 targeted cache-control field: it, then CDN-Cache-Control, replaces Cache-Control for the gateway's cache; never sent to clients. Default Switchyard-Cache-Control.",
      }),
    ),
  },
  'The response cache store.',
)

const LogAccess = Type.Union(
  [
    Type.Boolean({ description: 'true: one line per request (the default); false: no access log.' }),
    Strict(
      {
        sample: Type.Optional(
          Type.Number({ minimum: 0, maximum: 1, description: 'Share of requests logged, 0..1, decided per request. Default 1.' }),
        ),
        file: Type.Optional(
          FilePath('Access lines go to this file (appended, created when missing) instead of the gateway log; relative to this file.'),
        ),
      },
      'The access log, sampled or written to its own file.',
    ),
  ],
  {
    description: 'The access log (one JSON line per request), independent of `level`: true, false or { sample, file }. Default true.',
    errorMessage: 'must be true, false or { sample, file }',
  },
)

const Log = Strict(
  {
    level: Type.Optional(
      StringEnum(LOG_LEVELS, 'Lowest level of the gateway log: trace, debug, info, warn, error, fatal or silent. Default info.'),
    ),
    file: Type.Optional(
      FilePath('The gateway log goes to this file (appended, created when missing); relative to this file. Default stdout.'),
    ),
    access: Type.Optional(LogAccess),
  },
  'Logging: the gateway log (pino JSON lines) and the access log. Changes apply after a restart.',
)

const EtcdSource = Strict(
  {
    endpoints: Type.Array(Type.String({ minLength: 1, description: 'http://host:port or https://host:port' }), {
      minItems: 1,
      description: 'etcd v3 endpoints (the gRPC client port, 2379 by default).',
    }),
    key: Type.Optional(Type.String({ minLength: 1, description: 'The key holding the configuration (JSON or YAML). Default /switchyard/config.' })),
    runtimeKey: Type.Optional(
      Type.String({ minLength: 1, description: 'The key holding runtime changes (split weights, backend states) shared by every instance. Default <key>/runtime.' }),
    ),
    fleetKey: Type.Optional(
      Type.String({
        minLength: 1,
        description: "Prefix of the fleet's coordination keys: the canary leader election, each instance's canary counts, the canaries' persisted states. Default <key>/fleet.",
      }),
    ),
    leaseTtl: Type.Optional(Duration("TTL of each instance's etcd lease (canary leadership, canary counts): a leader that dies is replaced within it. Whole seconds, at least 2s. Default 5s.")),
    username: Type.Optional(Type.String({ minLength: 1, description: 'etcd user (with password).' })),
    password: Type.Optional(Type.String({ minLength: 1, description: 'etcd password; use ${ENV}.' })),
    tls: Type.Optional(
      Strict(
        {
          ca: Type.Optional(FilePath('CA bundle (PEM) that signs the etcd servers.')),
          cert: Type.Optional(FilePath('Client certificate (PEM) for mutual TLS.')),
          key: Type.Optional(FilePath('Client key (PEM) for mutual TLS.')),
        },
        'TLS to etcd (https:// endpoints).',
      ),
    ),
    dialTimeout: Type.Optional(Duration('Time allowed for one etcd call (a get, a put). Default 3s.')),
  },
  'Configuration from etcd: the local file keeps server, admin, log and configSource; the value at key holds the rest.',
)

const ConfigSource = Strict({ etcd: EtcdSource }, 'Where the configuration beyond this file lives.')

const State = Strict(
  {
    file: FilePath(
      'Runtime changes made through the admin API (backend states and weights, split weights) are written to this file (atomically) and applied again at start; relative to this file. Default: none (runtime changes last until restart).',
    ),
  },
  'Where runtime changes survive a restart.',
)

const Tracing = Strict(
  {
    otlp: Type.Optional(
      Strict(
        {
          endpoint: Type.String({
            pattern: '^https?://[^\\s?#]+$',
            description: 'The OTLP/HTTP receiver (a collector), e.g. http://127.0.0.1:4318: spans are POSTed to endpoint + /v1/traces.',
          }),
          sampleRate: Type.Optional(
            Type.Number({
              minimum: 0,
              maximum: 1,
              description: 'Share of new traces recorded, 0..1. A client traceparent decides for its own trace (parent-based). Default 1.',
            }),
          ),
          headers: Type.Optional(
            Type.Record(Type.String(), Type.String(), { description: 'Headers sent with every export, e.g. an API key of the tracing backend.' }),
          ),
        },
        'Spans exported over OTLP/HTTP (JSON), in batches, off the request path.',
      ),
    ),
  },
  'Tracing: W3C trace context is always propagated; with `otlp`, the gateway also records spans (the request and each upstream attempt) and exports them.',
)

const Backend = Type.Union(
  [
    Type.String({ minLength: 1, description: 'Backend origin, e.g. http://127.0.0.1:9001 (weight 1); for streams tcp://host:port, udp://host:port or host:port.' }),
    Strict(
      {
        url: Type.String({ minLength: 1, description: 'Backend origin: http(s)://host:port, no path; for streams tcp://host:port, udp://host:port or host:port.' }),
        weight: Type.Optional(
          Type.Integer({ minimum: 0, description: 'Relative share of traffic (0 drains the backend). Default 1.' }),
        ),
      },
      'A backend with a weight.',
    ),
  ],
  { description: 'A backend: its URL, or { url, weight }.', errorMessage: 'must be a URL string or { url, weight }' },
)

const HealthCheck = Strict(
  {
    type: Type.Optional(StringEnum(HEALTH_CHECK_TYPES, 'http: a request, judged by its status; tcp: a connection only; grpc: grpc.health.v1.Health/Check (service: path without its leading /, empty for the server), SERVING is healthy (needs protocol h2 or h2c). Default http.')),
    path: Type.Optional(Type.String({ minLength: 1, description: 'Path probed on each backend. Default /health.' })),
    method: Type.Optional(
      Type.String({ minLength: 1, pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", description: 'HTTP method of the probe. Default GET.' }),
    ),
    headers: Type.Optional(
      Type.Record(Type.String({ minLength: 1 }), Type.String(), { description: 'Extra request headers of the probe.' }),
    ),
    host: Type.Optional(Type.String({ minLength: 1, description: 'Host header of the probe (default: the backend address).' })),
    interval: Type.Optional(Duration('Time between probes. Default 5s.')),
    timeout: Type.Optional(Duration('A probe slower than this fails. Default 1s.')),
    healthyThreshold: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Consecutive successes that mark a backend up. Default 2.' }),
    ),
    unhealthyThreshold: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Consecutive failures that mark a backend down. Default 3.' }),
    ),
    expectStatus: Type.Optional(
      Type.Unsafe<string | number>({
        type: ['string', 'integer'],
        description: 'Healthy status codes: 200, 200-399, or a list like 200,204,300-399. Default 200-399.',
      }),
    ),
  },
  'Active health checks. Absent: no probes (backends are up unless their circuit opens).',
)

const CircuitBreaker = Type.Union(
  [
    Type.Boolean({ description: 'false disables the breaker; true keeps the defaults.' }),
    Strict(
      {
        consecutiveFailures: Type.Optional(
          Type.Integer({ minimum: 1, description: 'Failures in a row that open the circuit. Default 5.' }),
        ),
        openDuration: Type.Optional(Duration('How long the circuit stays open before half-open. Default 30s.')),
        halfOpenRequests: Type.Optional(
          Type.Integer({ minimum: 1, description: 'Trial requests let through while half-open. Default 1.' }),
        ),
        maxEjectionPercent: Type.Optional(
          Type.Number({
            minimum: 0,
            maximum: 100,
            description: 'Never eject more than this share of the pool by failures. Default 50.',
          }),
        ),
        failureRate: Type.Optional(
          Type.Union(
            [
              Type.Literal(false, { description: 'false: consecutive failures only.' }),
              Strict(
                {
                  threshold: Type.Optional(
                    Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'Share of failed requests (0..1] that ejects. Default 0.5.' }),
                  ),
                  minRequests: Type.Optional(
                    Type.Integer({ minimum: 1, description: 'Requests in the window before the rule applies. Default 20.' }),
                  ),
                  window: Type.Optional(Duration('Sliding window the share is measured over. Default 10s.')),
                },
                'Failure-percentage outlier detection.',
              ),
            ],
            { description: 'Eject a backend whose share of failures over a window reaches threshold. false disables it.', errorMessage: 'must be false or { threshold, minRequests, window }' },
          ),
        ),
        maxOpenDuration: Type.Optional(
          Duration('Cap on the ejection time, which grows as openDuration × ejections in a row. Default 5m.'),
        ),
      },
      'Per-backend circuit breaker: passive health from real traffic.',
    ),
  ],
  {
    description: 'Per-backend circuit breaker (on by default); false disables it.',
    errorMessage: 'must be false, true or a circuit breaker object',
  },
)

const RetryOn = Type.Union(
  [
    StringEnum(RETRY_CONDITIONS, 'A failure kind, or a status class (4xx, 5xx).'),
    StringEnum(GRPC_RETRY_CONDITIONS, 'A gRPC status (from a Trailers-Only answer): retried whatever the method, when the request body is replayable.'),
    Type.Integer({ minimum: 400, maximum: 599, description: 'An upstream status code (400-599).' }),
  ],
  { errorMessage: 'must be connect-error, reset, timeout, 4xx, 5xx, a gRPC status (cancelled, deadline-exceeded, internal, resource-exhausted, unavailable) or a status code 400-599' },
)

const Retry = Strict(
  {
    attempts: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 10, description: 'Extra tries, each on a different backend. Default 1.' }),
    ),
    on: Type.Optional(
      Type.Array(RetryOn, {
        description:
          'What is retried. reset, timeout and status codes only for idempotent methods. Default [connect-error, reset, 502, 503, 504].',
      }),
    ),
    budget: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description: 'Retries allowed as a share of requests (0..1); bounds retry storms. Default 0.2.',
      }),
    ),
    perTryTimeout: Type.Optional(Duration('Time for one try (connect and response head); then the next backend is tried. Default: none (timeouts.response).')),
    backoff: Type.Optional(
      Strict(
        {
          base: Type.Optional(Duration('First retry delay bound; doubles each retry (full jitter). Default 25ms.')),
          max: Type.Optional(Duration('Largest delay bound. Default 250ms.')),
        },
        'Exponential backoff with full jitter between tries.',
      ),
    ),
    honorRetryAfter: Type.Optional(
      Type.Boolean({ description: 'Do not retry a 503 that carries Retry-After (the backend asked for time). Default true.' }),
    ),
  },
  'Retries on another backend of the pool.',
)

const Pool = Strict(
  {
    algorithm: Type.Optional(StringEnum(ALGORITHMS, 'How a backend is chosen. Default round-robin.')),
    hashOn: Type.Optional(KeySource('Key hashed by consistent-hash: ip, path, header:NAME, cookie:NAME, query:NAME, jwt:CLAIM. Default ip.')),
    backends: Type.Array(Backend, { description: 'The backends of this pool (at least one).' }),
    slowStart: Type.Optional(Duration('A backend that becomes available ramps up over this window. Default 0 (off).')),
    stickySession: Type.Optional(
      Strict(
        {
          cookie: Type.Optional(Type.String({ minLength: 1, description: 'Cookie name. Default sy_backend.' })),
          ttl: Type.Optional(Duration('Cookie lifetime. Default 1h.')),
        },
        'Session persistence: the gateway pins a client to a backend by cookie.',
      ),
    ),
    tls: Type.Optional(
      Strict(
        {
          ca: Type.Optional(FilePath('PEM CA bundle trusted for https:// backends, relative to this file.')),
          servername: Type.Optional(Type.String({ minLength: 1, description: 'SNI name and name verified on the backend certificate.' })),
          rejectUnauthorized: Type.Optional(
            Type.Boolean({ description: 'Verify backend certificates. Default true.' }),
          ),
        },
        'TLS to https:// backends.',
      ),
    ),
    healthCheck: Type.Optional(HealthCheck),
    circuitBreaker: Type.Optional(CircuitBreaker),
    retry: Type.Optional(Retry),
    timeouts: Type.Optional(
      Strict(
        {
          connect: Type.Optional(Duration('Connecting to a backend. Default 2s.')),
          response: Type.Optional(Duration('Waiting for response headers; exceeded → 504. Default 30s.')),
          total: Type.Optional(
            Duration('Whole forward phase up to a response head: queueing, every try, backoff; exceeded → 504. Default: (1 + retry.attempts) × (connect + per-try time) + retry.attempts × backoff.max.'),
          ),
          idle: Type.Optional(Duration('An idle keep-alive connection to a backend is closed after this (keep it below the backend\'s). Default 4s.')),
        },
        'Upstream timeouts.',
      ),
    ),
    fallback: Type.Optional(
      Type.String({ minLength: 1, description: 'Pool used when no backend here can take the request.' }),
    ),
    panicThreshold: Type.Optional(
      Type.Number({ minimum: 0, maximum: 100, description: 'Percent: while fewer backends than this are available, balance over all of them (health and circuit ignored). Default 0.' }),
    ),
    maxPending: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Requests that may wait per backend for a free connection; more try another backend, or get 503. Default 1024.' }),
    ),
    queueTimeout: Type.Optional(Duration('Longest wait for a free connection to a backend. Default: timeouts.connect.')),
    protocol: Type.Optional(
      StringEnum(POOL_PROTOCOLS, 'Upstream protocol: http1 (HTTP/1.1), h2 (HTTP/2 over TLS, https:// backends) or h2c (HTTP/2 with prior knowledge, http:// backends). gRPC needs h2 or h2c. Default http1.'),
    ),
  },
  'A pool of backends.',
)

const HeaderMatch = Type.Union(
  [
    Type.String({ description: 'Exact value.' }),
    Strict(
      {
        regex: Type.Optional(Type.String({ description: 'The value must match this regular expression.' })),
        present: Type.Optional(Type.Boolean({ description: 'true: the header must be present; false: absent.' })),
      },
      'A regex or presence condition (exactly one of regex, present).',
    ),
  ],
  { description: 'Exact value, { regex }, or { present }.', errorMessage: 'must be a string, { regex } or { present }' },
)

const Match = Strict(
  {
    path: Type.Optional(
      Type.String({ minLength: 1, description: 'Path prefix on a segment boundary: /api/users matches /api/users/7, not /api/usersx.' }),
    ),
    pathExact: Type.Optional(Type.String({ minLength: 1, description: 'The whole path equals this.' })),
    pathRegex: Type.Optional(Type.String({ minLength: 1, description: 'The path matches this regular expression.' })),
    host: Type.Optional(
      Type.String({ minLength: 1, description: 'Host, exact or *.example.com; case-insensitive, port ignored.' }),
    ),
    methods: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Allowed methods.' })),
    headers: Type.Optional(
      Type.Record(Type.String(), HeaderMatch, { description: 'Header conditions by (case-insensitive) name.' }),
    ),
    country: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z]{2}$', errorMessage: 'must be a two-letter ISO 3166-1 country code' }), {
        minItems: 1,
        description: "The client's country (from geoip) is one of these ISO 3166-1 alpha-2 codes.",
      }),
    ),
    clientIp: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'The client address (after trustedProxies resolution) is in one of these addresses or CIDRs (IPv4 and IPv6).',
      }),
    ),
  },
  'Conditions, all of which must hold. None: the route matches everything.',
)

const SplitEntry = Strict(
  {
    pool: Type.String({ minLength: 1, description: 'A pool name.' }),
    weight: Type.Integer({ minimum: 0, description: 'Relative share of traffic.' }),
  },
  'A weighted target of a split.',
)

const RouteJwt = Type.Union(
  [
    Type.Boolean({ description: 'true: a valid token is required.' }),
    Strict(
      {
        required: Type.Optional(
          Type.Boolean({ description: 'false: a token is verified when present, not demanded. Default true.' }),
        ),
        claims: Type.Optional(
          Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
            description: 'Each claim must equal, or (for arrays/space lists) contain, the value; else 403.',
          }),
        ),
        forwardClaims: Type.Optional(
          Type.Record(Type.String(), HeaderName('Upstream request header.'), {
            description: 'Claim → upstream request header (a client-sent header of that name is dropped).',
          }),
        ),
        issuers: Type.Optional(
          Type.Array(Type.String({ minLength: 1 }), {
            minItems: 1,
            description: 'Verifiers this route accepts: names of jwtIssuers, or "default" (the top-level jwt). Default: ["default"].',
          }),
        ),
        token: Type.Optional(
          Type.String({
            pattern: '^(header|cookie):.+$',
            description: 'Where the token is read: header:NAME (the whole value, or after "Bearer ") or cookie:NAME. Default: Authorization: Bearer.',
            errorMessage: 'must be header:NAME or cookie:NAME',
          }),
        ),
      },
      'Token requirements of this route.',
    ),
  ],
  { description: 'JWT verification for this route: true, or an object.', errorMessage: 'must be true, false or a jwt object' },
)

const HeaderRewrite = Strict(
  {
    set: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Headers set (replacing any value).' })),
    remove: Type.Optional(Type.Array(HeaderName('A header name.'), { description: 'Headers removed.' })),
  },
  'Header changes.',
)

// Progressive delivery (docs/traffic.md): the gateway moves the candidate's weight step by step
// and decides each step from both cohorts' numbers.
const Canary = Strict(
  {
    baseline: Type.String({ minLength: 1, description: 'The pool serving today: one of the two pools of the split.' }),
    candidate: Type.String({ minLength: 1, description: 'The pool being rolled out: the other pool of the split.' }),
    steps: Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), {
      minItems: 1,
      description: 'Candidate weight (percent) at each step, strictly increasing, e.g. [5, 25, 50, 100].',
    }),
    interval: Type.Optional(Duration('Time per step before its gates are decided. Default 1m.')),
    gates: Type.Optional(
      Strict(
        {
          minRequests: Type.Optional(
            Type.Integer({ minimum: 1, description: 'Requests each cohort needs in a step before it is decided; fewer extend the step. Default 100.' }),
          ),
          maxErrorRate: Type.Optional(
            Type.Number({ minimum: 0, maximum: 1, description: "Highest share of the candidate's requests answered 5xx (gateway errors included). Default 0.01." }),
          ),
          maxP99Ratio: Type.Optional(
            Type.Number({ exclusiveMinimum: 0, description: "Highest candidate p99 / baseline p99 over the same window. Default 1.5." }),
          ),
          maxP99: Type.Optional(Duration("Highest candidate p99 latency, whatever the baseline's. Default none.")),
          maxDivergence: Type.Optional(
            Type.Number({
              minimum: 0,
              maximum: 1,
              description: "Highest share of compared shadow answers (mirror to the candidate with compare) that differ from the baseline's. Default none.",
            }),
          ),
        },
        'What each step must pass before the candidate gets more traffic.',
      ),
    ),
    webhook: Type.Optional(
      Strict(
        {
          url: Type.String({ minLength: 1, description: 'http(s) URL receiving a POST (JSON) on every canary decision.' }),
          timeout: Type.Optional(Duration('How long a notification may take; failures are logged. Default 5s.')),
        },
        'Notification of every decision (step, promotion, rollback, pause, resume).',
      ),
    ),
  },
  'Progressive delivery on a two-pool split: candidate weight raised step by step while its gates pass, rolled back on the first that fails.',
)

// ---- edge policies: route actions, IP rules, CORS, API keys, basic auth, compression ----

const CidrList = (description: string) =>
  Type.Array(Type.String({ minLength: 1, description: 'An IPv4 or IPv6 address, or a CIDR (10.0.0.0/8, 2001:db8::/32).' }), { description })

const RouteRespond = Strict(
  {
    status: Type.Optional(Type.Integer({ minimum: 200, maximum: 599, description: 'Status code. Default 200.' })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Response headers.' })),
    body: Type.Optional(Type.String({ description: 'Response body (UTF-8). Default empty; text/plain unless headers say otherwise.' })),
  },
  'Answer with this response instead of forwarding (instead of pool/split).',
)

const RouteRedirect = Strict(
  {
    to: Type.String({ minLength: 1, description: 'Target: an absolute URL (https://host/path) or a path (/new).' }),
    status: Type.Optional(
      Type.Unsafe<301 | 302 | 303 | 307 | 308>({ type: 'integer', enum: [301, 302, 303, 307, 308], description: 'Redirect status. Default 302.' }),
    ),
    keepPath: Type.Optional(
      Type.Boolean({ description: 'Append the request path after the matched match.path prefix (the whole path without one) to `to`. Default false.' }),
    ),
    keepQuery: Type.Optional(Type.Boolean({ description: "Append the request's query string. Default false." })),
  },
  'Answer with a redirect instead of forwarding (instead of pool/split).',
)

const RouteAccess = Strict(
  {
    allow: Type.Optional(CidrList('Only these client addresses are served (absent: everyone not denied).')),
    deny: Type.Optional(CidrList('These client addresses are refused (checked first).')),
    countries: Type.Optional(
      Strict(
        {
          allow: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z]{2}$' }), { description: 'Only clients of these countries are served (unknown: refused).' })),
          deny: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z]{2}$' }), { description: 'Clients of these countries are refused.' })),
        },
        'Country rules (ISO 3166-1 alpha-2 codes; needs geoip).',
      ),
    ),
  },
  'Client-IP access rules (after trustedProxies resolution); refused requests get 403.',
)

const RouteCors = Strict(
  {
    origins: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'Allowed origins: exact ("https://app.example.com"), a wildcard subdomain ("https://*.example.com") or "*" (any, never with credentials).',
    }),
    methods: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Methods allowed cross-origin. Default GET, HEAD, PUT, PATCH, POST, DELETE.' })),
    headers: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { description: 'Request headers allowed cross-origin. Default: what the preflight asks for.' }),
    ),
    exposeHeaders: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Response headers scripts may read.' })),
    credentials: Type.Optional(Type.Boolean({ description: 'Allow cookies and Authorization (Access-Control-Allow-Credentials). Default false.' })),
    maxAge: Type.Optional(Duration('How long browsers may cache a preflight answer. Default: not sent.')),
  },
  'Cross-origin resource sharing: preflights answered by the gateway, allow headers on responses.',
)

const RouteCompress = Type.Union(
  [
    Type.Boolean({ description: 'true: br and gzip, minSize 1kb.' }),
    Strict(
      {
        encodings: Type.Optional(
          Type.Array(StringEnum(['br', 'gzip'] as const, 'A content coding.'), { minItems: 1, description: 'Codings offered, in preference order. Default [br, gzip].' }),
        ),
        minSize: Type.Optional(Size('Bodies known to be smaller are sent as they are. Default 1kb.')),
        types: Type.Optional(
          Type.Array(Type.String({ minLength: 1 }), { description: 'Compressible media types (type/subtype or type/*). Default: text/*, JSON, XML, JavaScript, SVG and the like.' }),
        ),
      },
      'Compression settings.',
    ),
  ],
  { description: 'Compress responses (br, gzip) for clients that accept it.', errorMessage: 'must be true, false or a compress object' },
)

const RouteApiKey = Strict(
  {
    header: Type.Optional(HeaderName('Request header carrying the key. Default x-api-key.')),
    query: Type.Optional(Type.String({ minLength: 1, description: 'Query parameter carrying the key, if keys may come that way (header first).' })),
    keys: Type.Array(
      Strict(
        {
          name: Type.String({ minLength: 1, description: 'Consumer name (rate-limit key `apikey`, access log).' }),
          hash: Type.String({ pattern: '^sha256:[0-9a-fA-F]{64}$', description: 'sha256:<hex of the SHA-256 of the key>.', errorMessage: 'must be sha256: followed by 64 hex digits' }),
        },
        'A known key.',
      ),
      { minItems: 1, description: 'Known keys, stored as SHA-256 hashes.' },
    ),
  },
  'API-key authentication: 401 without a known key.',
)

const RouteBasicAuth = Strict(
  {
    realm: Type.Optional(Type.String({ minLength: 1, description: 'Realm shown by browsers. Default the route name.' })),
    users: Type.Array(
      Strict(
        {
          name: Type.String({ minLength: 1, description: 'User name.' }),
          hash: Type.String({ minLength: 1, description: 'What `switchyard hash-password` prints (scrypt, salted).' }),
        },
        'A user.',
      ),
      { minItems: 1, description: 'Users allowed.' },
    ),
  },
  'HTTP basic authentication (RFC 7617): 401 with WWW-Authenticate without valid credentials.',
)

const RouteTimeouts = Strict(
  {
    response: Type.Optional(Duration("Overrides the pool's timeouts.response for this route (exceeded → 504).")),
  },
  "Per-route override of the pools' upstream timeouts.",
)

const RouteRateLimit = Strict(
  {
    max: Type.Integer({ minimum: 1, description: 'Requests allowed per window and key.' }),
    window: Duration('The window.'),
    key: Type.Optional(KeySource('What is counted: ip, header:NAME, jwt:CLAIM, apikey (the API key or basic-auth user), route, ... Default ip.')),
    tiers: Type.Optional(
      Type.Record(Type.String(), Type.Integer({ minimum: 1 }), {
        description: "Per-consumer limits: the key's value (an API key's name with key: apikey, a claim with jwt:CLAIM, a header's value) → its own max per window.",
      }),
    ),
    algorithm: Type.Optional(
      StringEnum(
        ['fixed-window', 'gcra'] as const,
        'fixed-window: max per window counted from the first hit; gcra: a steady rate of max per window with bursts up to max, no double burst at window edges. Default fixed-window.',
      ),
    ),
    onStoreError: Type.Optional(
      StringEnum(['allow', 'deny'] as const, 'While the shared store is unreachable. Default allow.'),
    ),
  },
  'Rate limit of this route (429 with Retry-After when exceeded).',
)

const RouteRateLimits = Type.Union([RouteRateLimit, Type.Array(RouteRateLimit, { minItems: 1, description: 'Several limits (e.g. 10/s and 1000/h): a request must pass every one.' })], {
  description: 'Rate limit of this route, or a list of limits that all apply.',
  errorMessage: 'must be a rateLimit object or a list of them',
})

const Route = Strict(
  {
    name: Type.String({ minLength: 1, description: 'Unique route name (labels metrics, logs, admin API).' }),
    match: Type.Optional(Match),
    rewritePrefix: Type.Optional(
      Type.String({ description: 'Replaces the matched `path` prefix upstream ("" strips it). Needs match.path.' }),
    ),
    pool: Type.Optional(Type.String({ minLength: 1, description: 'The pool serving this route (or use split, respond or redirect).' })),
    split: Type.Optional(
      Type.Array(SplitEntry, { minItems: 1, description: 'Weighted pools serving this route (or use pool).' }),
    ),
    sticky: Type.Optional(
      KeySource('Keeps one client on one side of the split: header:NAME, cookie:NAME, ip or jwt:CLAIM.'),
    ),
    stickyCookie: Type.Optional(
      Strict(
        { ttl: Type.Optional(Duration('Lifetime of an assigned cookie: sticky key. Default 30d.')) },
        'The cookie set for a missing cookie: sticky key.',
      ),
    ),
    override: Type.Optional(
      HeaderName('A request with this header naming a pool of the split goes to that pool.'),
    ),
    jwt: Type.Optional(RouteJwt),
    rateLimit: Type.Optional(RouteRateLimits),
    cache: Type.Optional(
      Strict(
        {
          ttl: Type.Optional(Duration('Freshness when the upstream gives none. Default 0.')),
          staleWhileRevalidate: Type.Optional(Duration('Serve stale while refreshing (RFC 5861). Default 0.')),
          staleIfError: Type.Optional(Duration('Serve stale when the upstream fails (RFC 5861). Default 0.')),
          staleIfDisconnected: Type.Optional(
            Duration('Serve stale while the upstream cannot be reached at all (RFC 9111 §4.2.4), unless a directive forbids it. Default 1m; 0 disables.'),
          ),
          storeSetCookie: Type.Optional(
            Type.Boolean({ description: 'Store and replay responses that carry Set-Cookie. Default false (never stored).' }),
          ),
        },
        'Response caching (GET and HEAD; RFC 9111 shared-cache rules).',
      ),
    ),
    mirror: Type.Optional(
      Strict(
        {
          pool: Type.String({ minLength: 1, description: 'Pool receiving shadow copies (responses discarded).' }),
          percent: Type.Optional(
            Type.Number({ minimum: 0, maximum: 100, description: 'Share of requests mirrored. Default 100.' }),
          ),
          maxBodySize: Type.Optional(Size('Requests with larger bodies are not mirrored. Default 1mb.')),
          compare: Type.Optional(
            Type.Union([
              Type.Boolean({ description: "Compare each shadow answer with the primary's (status and body). Default false." }),
              Strict(
                {
                  ignore: Type.Optional(
                    Type.Array(Type.String({ description: 'A JSON Pointer (RFC 6901); a segment * matches every member or element.' }), {
                      maxItems: 64,
                      description: 'Parts of a JSON body left out of the comparison (timestamps, request ids).',
                    }),
                  ),
                  maxBodySize: Type.Optional(Size('Answers with larger bodies are not compared. Default 256kb.')),
                },
                "Compare each shadow answer with the primary's: status and JSON body (normalised), or the bytes of another body.",
              ),
            ], { description: "Compare each shadow answer with the primary's; results in switchyard_mirror_comparisons_total. Default off." }),
          ),
        },
        'Shadow traffic.',
      ),
    ),
    canary: Type.Optional(Canary),
    websocket: Type.Optional(
      Type.Union([
        Type.Boolean({ description: 'Proxy WebSocket upgrades. Default false.' }),
        Strict(
          {
            idleTimeout: Type.Optional(
              Duration('A tunnel with no bytes either way for this long is closed, both sides; 0 never. Default 10m.'),
            ),
          },
          'Proxy WebSocket upgrades, with these settings.',
        ),
      ], { description: 'Proxy WebSocket upgrades (only Upgrade: websocket): true, or the tunnel settings. Default false.' }),
    ),
    passHost: Type.Optional(
      Type.Boolean({
        description:
          "Send the client's Host upstream instead of the backend's own authority (NGINX `proxy_set_header Host $host`). Default false.",
      }),
    ),
    respond: Type.Optional(RouteRespond),
    redirect: Type.Optional(RouteRedirect),
    access: Type.Optional(RouteAccess),
    cors: Type.Optional(RouteCors),
    compress: Type.Optional(RouteCompress),
    apiKey: Type.Optional(RouteApiKey),
    basicAuth: Type.Optional(RouteBasicAuth),
    timeouts: Type.Optional(RouteTimeouts),
    bodyLimit: Type.Optional(Size('Largest request body on this route (overrides server.bodyLimit); larger requests get 413.')),
    retry: Type.Optional(Retry),
    headers: Type.Optional(
      Strict(
        { request: Type.Optional(HeaderRewrite), response: Type.Optional(HeaderRewrite) },
        'Header changes on the upstream request and on the response.',
      ),
    ),
  },
  'A route: conditions and where matching requests go.',
)

export const STREAM_PROTOCOLS = ['tcp', 'udp'] as const
export const PROXY_PROTOCOL_VERSIONS = ['v1', 'v2'] as const

const Stream = Strict(
  {
    name: Type.String({ minLength: 1, description: 'Unique stream name (labels metrics, logs, GET /api/streams).' }),
    listen: Strict(
      {
        host: Type.Optional(Type.String({ minLength: 1, description: 'Address the stream listens on. Default server.host.' })),
        port: Port('Port of the stream listener (TCP or UDP, as `protocol` says).'),
      },
      'Where the stream listens.',
    ),
    protocol: Type.Optional(StringEnum(STREAM_PROTOCOLS, 'tcp (connections) or udp (datagrams, a session per client address). Default tcp.')),
    pool: Type.Optional(
      Type.String({ minLength: 1, description: 'The pool serving this stream (tcp://, udp:// or host:port backends); with `sni`, the pool for names that match no entry.' }),
    ),
    sni: Type.Optional(
      Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), {
        description: 'TLS passthrough: ClientHello server name (exact or *.example.com) → pool. The TLS bytes are spliced untouched (tcp only).',
      }),
    ),
    idleTimeout: Type.Optional(Duration('A connection (or UDP session) with no bytes either way for this long is closed. Default 10m (tcp), 30s (udp).')),
    proxyProtocol: Type.Optional(
      StringEnum(PROXY_PROTOCOL_VERSIONS, 'Send a PROXY protocol header (v1 text or v2 binary) with the client address to the backend (tcp only).'),
    ),
    maxConnections: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Most client connections (tcp) or sessions (udp) held at once; more are refused. Default 10000.' }),
    ),
    clientHelloTimeout: Type.Optional(
      Duration('With `sni`: a client must send its TLS ClientHello within this, or it is closed. Default 5s.'),
    ),
  },
  'A layer-4 listener: TCP or UDP traffic relayed to a pool, optionally routed by TLS SNI.',
)

export const GatewayFileSchema = Strict(
  {
    $schema: Type.Optional(Type.String({ description: 'The JSON Schema of this file (for editors).' })),
    server: Type.Optional(Server),
    admin: Type.Optional(
      Type.Union([Type.Boolean({ description: 'false disables the admin listener.' }), Admin], {
        description: 'The admin listener, or false.',
        errorMessage: 'must be false, true or an admin object',
      }),
    ),
    jwt: Type.Optional(Jwt),
    geoip: Type.Optional(
      Strict(
        {
          database: Type.Optional(FilePath('A MaxMind DB (MMDB) country file (GeoLite2-Country, GeoIP2-Country, DB-IP); relative to this file. Re-read on reload when changed.')),
          header: Type.Optional(HeaderName('A header a CDN in front sets to the client country (e.g. cf-ipcountry); believed only from trustedProxies, and before the database.')),
        },
        'Where client countries come from, for match.country and access.countries.',
      ),
    ),
    jwtIssuers: Type.Optional(
      Type.Record(Type.String(), Jwt, {
        description: 'More token verifiers by name (each like `jwt`); a route names the ones it accepts in jwt.issuers ("default" is the top-level jwt).',
      }),
    ),
    rateLimit: Type.Optional(RateLimitStore),
    cache: Type.Optional(CacheStore),
    log: Type.Optional(Log),
    configSource: Type.Optional(ConfigSource),
    state: Type.Optional(State),
    tracing: Type.Optional(Tracing),
    pools: Type.Optional(Type.Record(Type.String(), Pool, { description: 'Pools of backends by name.' })),
    routes: Type.Optional(Type.Array(Route, { description: 'Routes, checked in order; the first match wins.' })),
    streams: Type.Optional(Type.Array(Stream, { description: 'Layer-4 listeners (TCP, UDP, TLS passthrough by SNI) over the same pools.' })),
  },
  'Switchyard gateway configuration.',
)

export type GatewayFile = Static<typeof GatewayFileSchema>

export const SCHEMA_ID = 'urn:switchyard:config:gateway:v1'

/** A whole-value `${NAME}` or `${NAME:-default}` reference, as editors see it before substitution. */
export const ENV_REFERENCE_PATTERN = '^\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}$'

/**
 * The published JSON Schema (draft-07): the TypeBox schema without its symbols, plus identity.
 * Editors validate the file before `${ENV}` substitution, so wherever a number, boolean,
 * duration or size goes, the published schema also accepts a whole `${...}` reference
 * (`port: ${PORT:-8080}` is not a mistake). The loader validates after substitution against
 * the strict schema, where no reference can remain.
 */
export function gatewayJsonSchema(): Record<string, unknown> {
  const plain = JSON.parse(JSON.stringify(GatewayFileSchema)) as Record<string, unknown>
  acceptEnvReferences(plain)
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: SCHEMA_ID,
    title: 'Switchyard gateway configuration',
    ...plain,
  }
}

function acceptEnvReferences(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) acceptEnvReferences(item)
    return
  }
  if (node === null || typeof node !== 'object') return
  const schema = node as Record<string, unknown>
  const types = Array.isArray(schema['type']) ? (schema['type'] as string[]) : typeof schema['type'] === 'string' ? [schema['type']] : []
  const scalar = types.some((t) => t === 'integer' || t === 'number' || t === 'boolean')
  if (scalar && schema['enum'] === undefined && schema['const'] === undefined) {
    if (!types.includes('string')) {
      schema['type'] = [...types, 'string']
      schema['pattern'] = ENV_REFERENCE_PATTERN
    } else if (typeof schema['pattern'] === 'string') {
      schema['pattern'] = `(?:${schema['pattern']})|${ENV_REFERENCE_PATTERN}`
    }
  }
  for (const value of Object.values(schema)) acceptEnvReferences(value)
}
