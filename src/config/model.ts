/**
 * The normalised configuration model: what every module reads after the loader has parsed,
 * substituted `${ENV}`, validated and normalised a file. Durations are milliseconds, sizes are
 * bytes, shorthands are expanded, defaults are filled in. Objects of these types are frozen:
 * nothing downstream mutates configuration, it compiles it into runtime structures once.
 */

/** Where a per-request key (hashing, stickiness, rate limiting) comes from. */
export type KeySource =
  | { readonly kind: 'ip' }
  | { readonly kind: 'path' }
  | { readonly kind: 'route' }
  | { readonly kind: 'header'; readonly name: string } // lower-cased
  | { readonly kind: 'cookie'; readonly name: string }
  | { readonly kind: 'query'; readonly name: string }
  | { readonly kind: 'jwt'; readonly claim: string }
  /** The authenticated consumer (API key name or basic-auth user); rate-limit keys only. */
  | { readonly kind: 'apikey' }

export interface TlsCertificateSettings {
  readonly cert: string // absolute path
  readonly key: string // absolute path
  readonly serverNames: readonly string[] // lower-cased; empty for the default certificate
}

/** `server.tls.acme`: certificates obtained and renewed over ACME (src/tls/acme.ts). */
export interface AcmeSettings {
  readonly directory: string
  readonly email: string
  /** Lower-cased; the first is the certificate's subject. */
  readonly domains: readonly string[]
  /** Absolute directory path. */
  readonly storage: string
  /** Absolute path of a PEM bundle trusted for the directory's HTTPS. */
  readonly ca?: string
  readonly renewBefore: number
}

export interface TlsSettings {
  readonly port: number
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3'
  readonly http2: boolean
  readonly redirectHttp: boolean
  readonly clientCa?: string // absolute path
  readonly requireClientCert: boolean
  readonly certificates: readonly TlsCertificateSettings[]
  /** With ACME, `certificates` includes the ACME certificate (files under `acme.storage`). */
  readonly acme?: AcmeSettings
}

export interface ServerSettings {
  readonly host: string
  readonly port: number
  readonly trustedProxies: readonly string[]
  readonly bodyLimit: number
  readonly headersTimeout: number
  readonly requestTimeout: number
  readonly shutdownTimeout: number
  /** Time between going unready (`GET /ready` 503) and closing the listeners on shutdown. */
  readonly shutdownDelay: number
  readonly maxConnections: number
  /** Worker threads sharing the listeners; `auto`: one per available core (resolved at start, src/workers/cores.ts). */
  readonly workers: number | 'auto'
  /** Largest request header block in bytes (431 above it). */
  readonly maxHeaderSize: number
  /** Longest request target in bytes (414 above it). */
  readonly maxUrlLength: number
  /** HTTP/2 with prior knowledge on the plain listener, beside HTTP/1.1 (SPEC §5). */
  readonly h2c?: boolean
  readonly tls?: TlsSettings
}

export interface AdminSettings {
  readonly host: string
  readonly port: number
  /** Empty string: no token required. */
  readonly token: string
  /** Host names (optionally host:port) the admin API answers to besides its own address and loopback names. */
  readonly allowedHosts?: readonly string[]
}

export interface JwtSettings {
  readonly algorithms: readonly string[]
  readonly secret?: string
  readonly publicKey?: string // absolute path to a PEM file
  readonly jwksUrl?: string
  readonly issuer?: string
  readonly audience?: string
  readonly clockTolerance: number
}

export interface StoreSettings {
  readonly store: 'memory' | 'redis'
  readonly redis: string
}

export interface CacheSettings extends StoreSettings {
  readonly maxSize: number
  readonly maxEntrySize: number
  /** The gateway's own RFC 9213 targeted cache-control field (as configured; matched case-insensitively). */
  readonly targetedField: string
}

export interface HealthCheckSettings {
  /** `http`: a request, verdict from the status; `tcp`: a connection only; `grpc`: grpc.health.v1 Check. */
  readonly type?: 'http' | 'tcp' | 'grpc'
  readonly path: string
  /** HTTP probes: method (upper-cased), extra headers (names lower-cased) and Host override. */
  readonly method?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly host?: string
  readonly interval: number
  readonly timeout: number
  readonly healthyThreshold: number
  readonly unhealthyThreshold: number
  /** Inclusive status ranges, e.g. 200-399 → [[200, 399]]. */
  readonly expectStatus: readonly (readonly [number, number])[]
}

export interface CircuitBreakerSettings {
  readonly consecutiveFailures: number
  readonly openDuration: number
  readonly halfOpenRequests: number
  readonly maxEjectionPercent: number
  /** Failure-percentage rule over a sliding window (absent: consecutive failures only). */
  readonly failureRate?: { readonly threshold: number; readonly minRequests: number; readonly window: number }
  /** Cap on the growing ejection time (openDuration × ejections in a row). */
  readonly maxOpenDuration?: number
}

/** gRPC statuses a pool may retry on (Envoy's retry_on names). */
export type GrpcRetryCondition = 'cancelled' | 'deadline-exceeded' | 'internal' | 'resource-exhausted' | 'unavailable'

/** A failure kind, a status code (400-599), a status class (`4xx`, `5xx`) or a gRPC status. */
export type RetryCondition = 'connect-error' | 'reset' | 'timeout' | '4xx' | '5xx' | GrpcRetryCondition | number

export interface RetrySettings {
  readonly attempts: number
  readonly on: readonly RetryCondition[]
  /** Retries allowed as a share of requests (0..1) over a sliding window; bounds retry storms. */
  readonly budget: number
  /** Time allowed for one try up to its response head (ms); absent: the response timeout. */
  readonly perTryTimeout?: number
  /** Exponential backoff with full jitter between tries: a delay drawn in [0, min(max, base × 2^n)). */
  readonly backoff?: { readonly base: number; readonly max: number }
  /** true (default): a 503 carrying Retry-After is not retried (the backend asked for time). */
  readonly honorRetryAfter?: boolean
}

export interface BackendSettings {
  /** Origin only: scheme://host:port, no path. */
  readonly url: string
  readonly weight: number
}

export type Algorithm =
  | 'round-robin'
  | 'weighted-round-robin'
  | 'least-connections'
  | 'least-response-time'
  | 'ip-hash'
  | 'consistent-hash'
  | 'random'
  | 'power-of-two-choices'
  | 'resource-based'

export interface PoolSettings {
  readonly name: string
  readonly algorithm: Algorithm
  readonly hashOn: KeySource
  readonly backends: readonly BackendSettings[]
  readonly slowStart: number // 0 = off
  readonly stickySession?: { readonly cookie: string; readonly ttl: number }
  readonly tls?: { readonly ca?: string; readonly servername?: string; readonly rejectUnauthorized: boolean }
  readonly healthCheck?: HealthCheckSettings
  readonly circuitBreaker?: CircuitBreakerSettings
  readonly retry: RetrySettings
  /**
   * connect, response; `total`: the whole forward phase (queueing, every try, backoff) up to a
   * response head (→ 504); `idle`: an idle keep-alive connection to a backend is closed after this.
   */
  readonly timeouts: { readonly connect: number; readonly response: number; readonly total?: number; readonly idle?: number }
  /** Percent (0-100): while fewer than this share of backends are available, the pool balances over all of them. */
  readonly panicThreshold?: number
  /** Requests that may wait per backend for a connection beyond the transport's connections (overflow: another backend, or 503). */
  readonly maxPending?: number
  /** Longest wait for a connection to a backend (ms). */
  readonly queueTimeout?: number
  readonly fallback?: string
  /**
   * Absent for an HTTP pool (http:// and https:// backends). A layer-4 pool says which streams
   * may use it: `tcp` (tcp:// backends), `udp` (udp:// backends) or `any` (bare host:port, kept
   * as tcp:// origins). HTTP routes never use layer-4 pools, and streams never use HTTP pools.
   */
  readonly streamProtocol?: 'tcp' | 'udp' | 'any'
  /** Upstream protocol of an HTTP pool; absent: HTTP/1.1. `h2`: HTTP/2 over TLS; `h2c`: cleartext, prior knowledge. */
  readonly protocol?: 'h2' | 'h2c'
}

export type HeaderMatch =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'regex'; readonly source: string }
  | { readonly kind: 'present'; readonly present: boolean }

export interface RouteMatchSettings {
  readonly path?: string
  readonly pathExact?: string
  readonly pathRegex?: string
  readonly host?: string // lower-cased
  readonly methods?: readonly string[] // upper-cased
  readonly headers?: Readonly<Record<string, HeaderMatch>> // names lower-cased
  /** Addresses and CIDRs, canonical form (src/net/client-ip.ts canonicalIp), e.g. `10.0.0.0/8`, `2001:db8::/32`. */
  readonly clientIp?: readonly string[]
  /** ISO 3166-1 alpha-2 codes, upper case (needs `geoip`). */
  readonly country?: readonly string[]
}

export interface GeoipSettings {
  /** Absolute path of a MaxMind DB (MMDB) file. */
  readonly database?: string
  /** Lower-cased header a trusted CDN sets to the client's country. */
  readonly header?: string
}

export interface SplitTarget {
  readonly pool: string
  readonly weight: number
}

export interface RouteJwtSettings {
  readonly required: boolean
  readonly claims: Readonly<Record<string, string | number | boolean>>
  readonly forwardClaims: Readonly<Record<string, string>> // claim → lower-cased header name
  /** Verifiers accepted: names of `jwtIssuers`, `default` for the top-level jwt. Absent: ["default"]. */
  readonly issuers?: readonly string[]
  /** Where the token is read; absent: `Authorization: Bearer`. */
  readonly token?: { readonly kind: 'header' | 'cookie'; readonly name: string }
}

export interface RouteRateLimitSettings {
  readonly max: number
  readonly window: number
  readonly key: KeySource
  readonly onStoreError: 'allow' | 'deny'
  /** Absent: fixed-window. */
  readonly algorithm?: 'fixed-window' | 'gcra'
  /** Per-consumer tiers: the key's value (API key name, claim, header value) → its own max. */
  readonly tiers?: Readonly<Record<string, number>>
}

export interface RouteCacheSettings {
  readonly ttl: number // 0 = only what upstream headers allow
  readonly staleWhileRevalidate: number
  readonly staleIfError: number
  /** Serve stale this long past freshness while the origin cannot be reached (RFC 9111 §4.2.4). */
  readonly staleIfDisconnected: number
  /** Store and replay responses carrying Set-Cookie (off: one client's cookie must never reach another). */
  readonly storeSetCookie: boolean
}

export interface HeaderRewriteSettings {
  readonly set: Readonly<Record<string, string>> // names lower-cased
  readonly remove: readonly string[] // lower-cased
}

/** `routes[].canary`: progressive delivery on a two-pool split (src/canary/). */
export interface CanarySettings {
  readonly baseline: string
  readonly candidate: string
  /** Candidate weights (percent, 1-100), strictly increasing. */
  readonly steps: readonly number[]
  readonly interval: number
  readonly gates: {
    readonly minRequests: number
    readonly maxErrorRate: number
    readonly maxP99Ratio: number
    /** Milliseconds; absent: no absolute bound. */
    readonly maxP99?: number
    /** Highest share of compared shadow answers that differ (route `mirror` to the candidate with `compare`); absent: no such gate. */
    readonly maxDivergence?: number
  }
  readonly webhook?: { readonly url: string; readonly timeout: number }
}

export interface RouteSettings {
  readonly name: string
  readonly match: RouteMatchSettings
  readonly rewritePrefix?: string
  /** A single `pool:` becomes one split entry of weight 1. */
  readonly split: readonly SplitTarget[]
  readonly sticky?: KeySource
  readonly stickyCookie: { readonly ttl: number } // lifetime of an assigned `cookie:` sticky key
  readonly override?: string // lower-cased header name
  readonly jwt?: RouteJwtSettings
  /** The first (or only) limit. */
  readonly rateLimit?: RouteRateLimitSettings
  /** Every limit, in file order, when `rateLimit` is a list (absent for a single limit). */
  readonly rateLimits?: readonly RouteRateLimitSettings[]
  readonly cache?: RouteCacheSettings
  readonly mirror?: { readonly pool: string; readonly percent: number; readonly maxBodySize: number; readonly compare?: MirrorCompareSettings }
  readonly canary?: CanarySettings
  readonly websocket: boolean
  /** Set when `websocket` is on: a tunnel idle (no bytes either way) this long is closed (ms). */
  readonly websocketIdleTimeout?: number
  /** Present (true) when the client's Host is sent upstream instead of the backend's authority. */
  readonly passHost?: true
  readonly headers: { readonly request: HeaderRewriteSettings; readonly response: HeaderRewriteSettings }
  /** Route actions (instead of a pool; `split` is then empty). */
  readonly respond?: RouteRespondSettings
  readonly redirect?: RouteRedirectSettings
  readonly access?: RouteAccessSettings
  readonly cors?: RouteCorsSettings
  readonly compress?: RouteCompressSettings
  readonly apiKey?: RouteApiKeySettings
  readonly basicAuth?: RouteBasicAuthSettings
  /** Per-route override of the pools' response timeout (ms). */
  readonly timeouts?: { readonly response?: number }
  /** Per-route override of server.bodyLimit (bytes). */
  readonly bodyLimit?: number
  /** Per-route override of the pools' retry policy (defaults filled in as for a pool). */
  readonly retry?: RetrySettings
}

export interface RouteRespondSettings {
  readonly status: number
  /** Names lower-cased; content-type filled in for a non-empty body. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export interface RouteRedirectSettings {
  readonly to: string
  readonly status: 301 | 302 | 303 | 307 | 308
  readonly keepPath: boolean
  readonly keepQuery: boolean
}

export interface RouteAccessSettings {
  /** Canonical addresses and CIDRs; absent: everyone not denied. */
  readonly allow?: readonly string[]
  readonly deny: readonly string[]
  /** Country rules (ISO codes, upper case; needs `geoip`). */
  readonly countries?: { readonly allow?: readonly string[]; readonly deny: readonly string[] }
}

export interface RouteCorsSettings {
  /** Exact origins (lower-cased scheme and host), `scheme://*.domain` patterns, or `*`. */
  readonly origins: readonly string[]
  readonly methods: readonly string[] // upper-cased
  /** Allowed request headers, lower-cased; absent: whatever the preflight asks for. */
  readonly headers?: readonly string[]
  readonly exposeHeaders: readonly string[]
  readonly credentials: boolean
  /** Milliseconds; absent: no Access-Control-Max-Age. */
  readonly maxAge?: number
}

export interface RouteCompressSettings {
  readonly encodings: readonly ('br' | 'gzip')[]
  readonly minSize: number
  /** Lower-cased media types, `type/*` allowed. */
  readonly types: readonly string[]
}

export interface RouteApiKeySettings {
  readonly header: string // lower-cased
  readonly query?: string
  /** `hash` is the hex SHA-256 of the key, lower-cased, without the `sha256:` prefix. */
  readonly keys: readonly { readonly name: string; readonly hash: string }[]
}

export interface RouteBasicAuthSettings {
  readonly realm: string
  readonly users: readonly { readonly name: string; readonly hash: string }[]
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'

export interface AccessLogSettings {
  /** `log.access: false` → false. */
  readonly enabled: boolean
  /** Share of requests logged, 0..1 (1: every request). */
  readonly sample: number
  /** Absolute path; absent: access lines go where the gateway log goes. */
  readonly file?: string
}

export interface LogSettings {
  readonly level: LogLevel
  /** Absolute path; absent: stdout. */
  readonly file?: string
  readonly access: AccessLogSettings
}

export interface StreamSniEntry {
  /** Lower-case; `*.suffix` for a wildcard of one label. */
  readonly name: string
  readonly pool: string
}

/** A layer-4 listener (`streams:`). */
export interface StreamSettings {
  readonly name: string
  readonly protocol: 'tcp' | 'udp'
  readonly host: string
  readonly port: number
  /** The pool serving the stream; with `sni`, the pool for unmatched (or absent) names. */
  readonly pool?: string
  /** TLS passthrough: ClientHello server name → pool, in file order (tcp only). */
  readonly sni?: readonly StreamSniEntry[]
  readonly idleTimeout: number
  readonly proxyProtocol?: 'v1' | 'v2'
  /** Connections (tcp) or sessions (udp) held at once. */
  readonly maxConnections: number
  readonly clientHelloTimeout: number
}

/** `configSource.etcd`: the configuration beyond the local file lives at `key` in etcd. */
export interface EtcdSourceSettings {
  readonly endpoints: readonly string[]
  readonly key: string
  /** Runtime changes (split weights, backend states) shared by every instance. */
  readonly runtimeKey: string
  /** Prefix of the fleet's coordination keys (canary leader election, instance reports, canary states); normalisation sets it (default `<key>/fleet`). */
  readonly fleetKey?: string
  /** ms: the TTL of each instance's etcd lease (leadership, reports): a dead leader is replaced within it. */
  readonly leaseTtl?: number
  readonly username?: string
  readonly password?: string
  /** Absolute paths (resolved against the file). */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string }
  /** ms allowed for one etcd call. */
  readonly dialTimeout: number
}

export interface ConfigSourceSettings {
  readonly etcd: EtcdSourceSettings
}

/** `mirror.compare`: each shadow answer is compared with the primary's. */
export interface MirrorCompareSettings {
  /** JSON Pointers as written (for the API and logs). */
  readonly ignore: readonly string[]
  /** The same, as segments (unescaped; `*` matches every member or element). */
  readonly ignorePaths: readonly (readonly string[])[]
  /** Answers with larger bodies (either side) are not compared. */
  readonly maxBodySize: number
}

export interface GatewaySettings {
  readonly server: ServerSettings
  readonly admin: AdminSettings | false
  readonly jwt?: JwtSettings
  /** Where client countries come from (match.country, access.countries). */
  readonly geoip?: GeoipSettings
  /** Named verifiers besides `jwt` (a route picks them with jwt.issuers). */
  readonly jwtIssuers?: Readonly<Record<string, JwtSettings>>
  readonly rateLimit: StoreSettings
  readonly cache: CacheSettings
  /** Applied at start only: a reload that changes it warns and keeps the running log. */
  readonly log: LogSettings
  /** Span export (W3C propagation runs without it). */
  readonly tracing?: TracingSettings
  /** In file order. */
  readonly pools: readonly PoolSettings[]
  /** In file order; the first match wins. */
  readonly routes: readonly RouteSettings[]
  /** Layer-4 listeners, in file order. */
  readonly streams: readonly StreamSettings[]
  /** Where the rest of the configuration lives (etcd), when not all in this file. */
  readonly configSource?: ConfigSourceSettings
  /** Absolute path of the file this came from, when it came from a file. */
  readonly source?: string
  /** `state.file`: absolute path where runtime changes are kept across restarts. */
  readonly state?: { readonly file: string }
}

export interface OtlpSettings {
  /** The receiver's base URL, as configured. */
  readonly endpoint: string
  /** Where spans are POSTed: endpoint + /v1/traces. */
  readonly tracesUrl: string
  /** Share of new traces recorded, 0..1. */
  readonly sampleRate: number
  readonly headers: Readonly<Record<string, string>>
}

export interface TracingSettings {
  readonly otlp?: OtlpSettings
}
