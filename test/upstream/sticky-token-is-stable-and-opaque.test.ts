import { afterEach, describe, expect, it } from 'vitest'
import { createPoolRegistry, stickyTokenFor, type UpstreamPoolRegistry } from '../../src/upstream/index.js'
import { poolSettings } from './helpers.js'

const registries: UpstreamPoolRegistry[] = []
afterEach(async () => {
  await Promise.all(registries.splice(0).map((r) => r.close()))
})

function make(urls: string[]) {
  const r = createPoolRegistry([
    poolSettings({
      name: 'users',
      backends: urls.map((url) => ({ url, weight: 1 })),
      stickySession: { cookie: 'sy_backend', ttl: 3_600_000 },
      circuitBreaker: { consecutiveFailures: 1, openDuration: 60_000, halfOpenRequests: 1, maxEjectionPercent: 100 },
    }),
  ])
  registries.push(r)
  return r
}

describe('sticky session token', () => {
  it('is the same on every gateway instance and across reloads, per pool and origin', () => {
    const one = make(['http://10.1.2.3:8080', 'http://10.1.2.4:8080'])
    const two = make(['http://10.1.2.4:8080', 'http://10.1.2.3:8080'])
    const t1 = one.get('users')!.backends.map((b) => b.stickyToken)
    const t2 = two.get('users')!.backends.map((b) => b.stickyToken)
    expect(t1).toEqual([t2[1], t2[0]])
    one.reconcile([poolSettings({ name: 'users', backends: [{ url: 'http://10.1.2.3:8080', weight: 7 }] })])
    expect(one.get('users')!.backends[0]!.stickyToken).toBe(t1[0])
    expect(stickyTokenFor('users', 'http://10.1.2.3:8080')).toBe(t1[0])
    expect(stickyTokenFor('other-pool', 'http://10.1.2.3:8080')).not.toBe(t1[0])
  })

  it('does not reveal the address and is cookie-safe', () => {
    const r = make(['http://10.1.2.3:8080'])
    const token = r.get('users')!.backends[0]!.stickyToken
    expect(token).toMatch(/^[A-Za-z0-9_-]{16}$/)
    expect(token).not.toContain('10.1.2.3')
    expect(Buffer.from(token, 'base64url').toString('latin1')).not.toContain('10.1.2.3')
  })

  it('finds the backend a token names while it is available, and not when it is not', () => {
    const r = make(['http://10.1.2.3:8080', 'http://10.1.2.4:8080'])
    const pool = r.get('users')!
    const [a, b] = pool.backends
    expect(pool.backendForToken(b!.stickyToken)).toBe(b)
    expect(pool.backendForToken('not-a-token')).toBeUndefined()
    pool.acquire(a!)!.end('failure', 1, 'connect-error')
    expect(pool.backendForToken(a!.stickyToken)).toBeUndefined()
  })
})
