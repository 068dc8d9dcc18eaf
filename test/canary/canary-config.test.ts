import { describe, expect, it } from 'vitest'
import { parseConfigText } from '../../src/config/index.js'
import { linesOfYaml } from '../config/problem-lines.js'

const POOLS = `
pools:
  v1: { backends: [http://127.0.0.1:9001] }
  v2: { backends: [http://127.0.0.1:9002] }
  v3: { backends: [http://127.0.0.1:9003] }
routes:
`

describe('routes[].canary', () => {
  it('reads a canary block with its defaults', () => {
    const s = parseConfigText(`${POOLS}  - name: r
    split: [{ pool: v1, weight: 100 }, { pool: v2, weight: 0 }]
    canary: { baseline: v1, candidate: v2, steps: [10, 50], gates: { maxP99: 250ms } }
`)
    expect(s.routes[0]!.canary).toEqual({
      baseline: 'v1',
      candidate: 'v2',
      steps: [10, 50],
      interval: 60_000,
      gates: { minRequests: 100, maxErrorRate: 0.01, maxP99Ratio: 1.5, maxP99: 250 },
    })
  })

  it.each([
    ['a single pool', '    pool: v1\n    canary: { baseline: v1, candidate: v2, steps: [10] }', 'routes[0].canary: needs a split of exactly its two pools, "v1" and "v2" (the split has "v1")'],
    [
      'a pool outside the split',
      '    split: [{ pool: v1, weight: 1 }, { pool: v3, weight: 1 }]\n    canary: { baseline: v1, candidate: v2, steps: [10] }',
      'routes[0].canary: needs a split of exactly its two pools, "v1" and "v2" (the split has "v1", "v3")',
    ],
    ['the same pool twice', '    split: [{ pool: v1, weight: 1 }, { pool: v2, weight: 1 }]\n    canary: { baseline: v1, candidate: v1, steps: [10] }', 'routes[0].canary.candidate: must differ from baseline "v1"'],
    ['falling steps', '    split: [{ pool: v1, weight: 1 }, { pool: v2, weight: 1 }]\n    canary: { baseline: v1, candidate: v2, steps: [10, 50, 50] }', 'routes[0].canary.steps[2]: must be above the step before it (50)'],
    ['a zero interval', '    split: [{ pool: v1, weight: 1 }, { pool: v2, weight: 1 }]\n    canary: { baseline: v1, candidate: v2, steps: [10], interval: 0 }', 'routes[0].canary.interval: must be longer than 0'],
    ['a webhook that is not http', '    split: [{ pool: v1, weight: 1 }, { pool: v2, weight: 1 }]\n    canary: { baseline: v1, candidate: v2, steps: [10], webhook: { url: "file:///etc/passwd" } }', 'routes[0].canary.webhook.url: "file:///etc/passwd" is not an http(s) URL'],
  ])('refuses %s, naming the path', (_what, body, line) => {
    expect(linesOfYaml(`${POOLS}  - name: r\n${body}\n`)).toEqual([line])
  })

  it('accepts a canary with worker threads (the main thread decides for the process)', () => {
    const settings = parseConfigText(`server: { workers: 2 }\n${POOLS}  - name: r\n    split: [{ pool: v1, weight: 1 }, { pool: v2, weight: 1 }]\n    canary: { baseline: v1, candidate: v2, steps: [10] }\n`)
    expect(settings.server.workers).toBe(2)
    expect(settings.routes[0]!.canary).toMatchObject({ baseline: 'v1', candidate: 'v2', steps: [10] })
  })

  it('refuses a step above 100 through the schema', () => {
    const lines = linesOfYaml(`${POOLS}  - name: r\n    split: [{ pool: v1, weight: 1 }, { pool: v2, weight: 1 }]\n    canary: { baseline: v1, candidate: v2, steps: [10, 150] }\n`)
    expect(lines.join('\n')).toContain('routes[0].canary.steps[1]')
  })
})
