import { afterEach, describe, expect, it } from 'vitest'
import { createPoolRegistry, type UpstreamPoolRegistry } from '../../src/upstream/index.js'
import type { Algorithm } from '../../src/config/model.js'
import { ctx, pick, poolSettings } from './helpers.js'

let registry: UpstreamPoolRegistry | undefined
afterEach(async () => {
  await registry?.close()
  registry = undefined
})

function pool(algorithm: Algorithm) {
  registry = createPoolRegistry([
    poolSettings({
      name: 'api',
      algorithm,
      backends: [1, 2, 3].map((i) => ({ url: `http://127.0.0.1:${41000 + i}`, weight: i })),
    }),
  ])
  return registry.get('api')!
}

describe('pool.preview', () => {
  for (const algorithm of ['round-robin', 'weighted-round-robin', 'least-connections', 'least-response-time'] as const) {
    it(`${algorithm}: shows the order the next request gets, without advancing the live balancer`, () => {
      const p = pool(algorithm)
      pick(p.candidates(ctx())) // move off the initial position
      const shown = p.preview(ctx())
      expect(p.preview(ctx())).toEqual(shown)
      expect(shown).toHaveLength(3)
      expect(pick(p.candidates(ctx()))).toBe(shown[0])
    })
  }

  it('consistent-hash: the exact order for the key', () => {
    const p = pool('consistent-hash')
    const shown = p.preview(ctx('10.0.0.1', 'user-7'))
    expect([...p.candidates(ctx('10.0.0.1', 'user-7'))]).toEqual(shown)
  })
})
