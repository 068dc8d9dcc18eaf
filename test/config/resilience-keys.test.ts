/**
 * The issue-12 pool keys: retry class shorthands, per-try timeout and backoff, the total
 * deadline's default formula, idle timeout, queue bounds, panic threshold, outlier rules and
 * health-check probe settings.
 */
import { expect, test } from 'vitest'
import { parseConfigText } from '../../src/config/index.js'

test('retry.on accepts 4xx/5xx classes and 4xx codes; perTryTimeout and backoff are read', () => {
  const s = parseConfigText('pools: { a: { backends: [http://127.0.0.1:1], retry: { attempts: 2, on: [connect-error, 5xx, 4xx, 429], perTryTimeout: 1s, backoff: { base: 10ms, max: 80ms }, honorRetryAfter: false } } }')
  expect(s.pools[0]!.retry).toEqual({ attempts: 2, on: ['connect-error', '5xx', '4xx', 429], budget: 0.2, perTryTimeout: 1000, backoff: { base: 10, max: 80 }, honorRetryAfter: false })
})

test('timeouts.total defaults to (1 + attempts) × (connect + per-try time) + attempts × backoff.max', () => {
  const s = parseConfigText(
    'pools:\n  a: { backends: [http://127.0.0.1:1], timeouts: { connect: 1s, response: 3s }, retry: { attempts: 2, perTryTimeout: 500ms } }\n  b: { backends: [http://127.0.0.1:2], timeouts: { total: 7s, idle: 1s } }',
  )
  expect(s.pools[0]!.timeouts).toEqual({ connect: 1000, response: 3000, total: 3 * 1500 + 2 * 250, idle: 4000 })
  expect(s.pools[1]!.timeouts).toEqual({ connect: 2000, response: 30_000, total: 7000, idle: 1000 })
})

test('maxPending, queueTimeout and panicThreshold', () => {
  const s = parseConfigText('pools: { a: { backends: [http://127.0.0.1:1], maxPending: 0, queueTimeout: 150ms, panicThreshold: 50 } }')
  expect(s.pools[0]).toMatchObject({ maxPending: 0, queueTimeout: 150, panicThreshold: 50 })
})

test('circuitBreaker.failureRate and maxOpenDuration; failureRate: false turns the rule off', () => {
  const s = parseConfigText(
    'pools:\n  a: { backends: [http://127.0.0.1:1], circuitBreaker: { failureRate: { threshold: 0.3, minRequests: 10, window: 5s }, maxOpenDuration: 2m } }\n  b: { backends: [http://127.0.0.1:2], circuitBreaker: { failureRate: false } }',
  )
  expect(s.pools[0]!.circuitBreaker).toMatchObject({ failureRate: { threshold: 0.3, minRequests: 10, window: 5000 }, maxOpenDuration: 120_000 })
  expect(s.pools[1]!.circuitBreaker!.failureRate).toBeUndefined()
})

test('healthCheck type, method, headers and host', () => {
  const s = parseConfigText(
    'pools:\n  a: { backends: [http://127.0.0.1:1], healthCheck: { method: head, headers: { X-Probe: "1" }, host: users.internal } }\n  b: { backends: [http://127.0.0.1:2], healthCheck: { type: tcp } }',
  )
  expect(s.pools[0]!.healthCheck).toMatchObject({ type: 'http', method: 'HEAD', headers: { 'x-probe': '1' }, host: 'users.internal' })
  expect(s.pools[1]!.healthCheck).toMatchObject({ type: 'tcp' })
  expect(() => parseConfigText('pools: { a: { backends: [http://127.0.0.1:1], healthCheck: { type: grpc } } }')).toThrow(/type/)
})
