/**
 * Every default of the configuration, in the units of the model (milliseconds, bytes). The
 * reference in docs/configuration.md lists the same values (a test compares the main ones).
 */
import type { RetryCondition } from './model.js'

const SECOND = 1000
const MINUTE = 60 * SECOND
const KB = 1024
const MB = 1024 * KB

export const DEFAULTS = {
  server: {
    host: '0.0.0.0',
    port: 8080,
    bodyLimit: 10 * MB,
    headersTimeout: 10 * SECOND,
    requestTimeout: 60 * SECOND,
    shutdownTimeout: 30 * SECOND,
    shutdownDelay: 0,
    maxConnections: 10_000,
    workers: 1,
    maxHeaderSize: 16 * KB,
    maxUrlLength: 8 * KB,
  },
  tls: { minVersion: 'TLSv1.2', http2: true, redirectHttp: false, requireClientCert: false, acmeRenewBefore: 30 * 24 * 60 * MINUTE },
  admin: { host: '127.0.0.1', port: 9901, token: '' },
  jwt: { clockTolerance: 0 },
  store: { store: 'memory', redis: 'redis://127.0.0.1:6379' },
  cache: { maxSize: 64 * MB, maxEntrySize: 1 * MB, targetedField: 'Switchyard-Cache-Control' },
  log: { level: 'info', access: { enabled: true, sample: 1 } },
  tracing: { otlp: { sampleRate: 1 } },
  pool: {
    algorithm: 'round-robin',
    hashOn: 'ip',
    backendWeight: 1,
    slowStart: 0,
    stickySession: { cookie: 'sy_backend', ttl: 60 * MINUTE },
    tls: { rejectUnauthorized: true },
    retry: {
      attempts: 1,
      on: ['connect-error', 'reset', 502, 503, 504] as readonly RetryCondition[],
      budget: 0.2,
      backoff: { base: 25, max: 250 },
      honorRetryAfter: true,
    },
    // total: computed from the others when absent (see normalize-pools.ts, defaultTotalTimeout);
    // idle: below the common backend keep-alive defaults (Node 5s, NGINX 75s, Go 90s).
    timeouts: { connect: 2 * SECOND, response: 30 * SECOND, idle: 4 * SECOND },
    panicThreshold: 0,
    maxPending: 1024,
  },
  healthCheck: {
    path: '/health',
    interval: 5 * SECOND,
    timeout: 1 * SECOND,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
    expectStatus: '200-399',
    type: 'http',
    method: 'GET',
  },
  circuitBreaker: {
    consecutiveFailures: 5,
    openDuration: 30 * SECOND,
    halfOpenRequests: 1,
    maxEjectionPercent: 50,
    maxOpenDuration: 5 * MINUTE,
    failureRate: { threshold: 0.5, minRequests: 20, window: 10 * SECOND },
  },
  stream: {
    protocol: 'tcp',
    idleTimeout: { tcp: 10 * MINUTE, udp: 30 * SECOND },
    maxConnections: 10_000,
    clientHelloTimeout: 5 * SECOND,
  },
  route: {
    stickyCookieTtl: 30 * 24 * 60 * MINUTE,
    rateLimit: { key: 'ip', onStoreError: 'allow' },
    cache: { ttl: 0, staleWhileRevalidate: 0, staleIfError: 0, staleIfDisconnected: MINUTE, storeSetCookie: false },
    mirror: { percent: 100, maxBodySize: 1 * MB },
    canary: { interval: 1 * MINUTE, gates: { minRequests: 100, maxErrorRate: 0.01, maxP99Ratio: 1.5 }, webhookTimeout: 5 * SECOND },
    websocket: false,
    websocketIdleTimeout: 10 * MINUTE,
  },
} as const
