import { describe, expect, it } from 'vitest'
import type { RouteSettings } from '../../src/config/model.js'
import { createSplitSelector, withWeights } from '../../src/routing/split.js'

const route: RouteSettings = {
  name: 'users',
  match: { path: '/api/users' },
  split: [
    { pool: 'v1', weight: 100 },
    { pool: 'v2', weight: 0 },
  ],
  sticky: { kind: 'header', name: 'x-user-id' },
  stickyCookie: { ttl: 0 },
  websocket: false,
  headers: { request: { set: {}, remove: [] }, response: { set: {}, remove: [] } },
}

describe('sticky cohorts while a canary raises the candidate weight', () => {
  it('never moves a user from the candidate back to the baseline, step after step', () => {
    const users = Array.from({ length: 5000 }, (_, i) => `user-${i}`)
    const onCandidate = new Set<string>()
    let selector = createSplitSelector(route)
    for (const weight of [1, 5, 10, 25, 50, 75, 99, 100]) {
      selector = withWeights(selector, { v1: 100 - weight, v2: weight })
      const now = new Set(users.filter((u) => selector.choose({ headers: { 'x-user-id': u }, clientIp: '127.0.0.1', claims: undefined }).pool === 'v2'))
      for (const u of onCandidate) expect(now.has(u), `${u} left the candidate at weight ${weight}`).toBe(true)
      // The share follows the weight (rendezvous hashing is exact in expectation).
      expect(Math.abs(now.size / users.length - weight / 100)).toBeLessThan(0.03)
      for (const u of now) onCandidate.add(u)
    }
    expect(onCandidate.size).toBe(users.length)
  })
})
