/**
 * `routes[].canary` → CanarySettings, with the checks that tie it to its route: the split must
 * be exactly the two pools it names (the controller owns both weights), and steps must rise.
 */
import type { CanarySettings, SplitTarget } from './model.js'
import { DEFAULTS } from './defaults.js'
import { childPath, indexPath } from './paths.js'
import { asArray, asDuration, asNumber, asObject, asString, type NormalizeContext } from './read.js'
import { tryParseDuration } from './units.js'

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

export function normalizeCanary(raw: unknown, split: readonly SplitTarget[], path: string, ctx: NormalizeContext): CanarySettings | undefined {
  const o = asObject(raw)
  if (o === undefined) return undefined
  // Any `server.workers`: with worker threads the main thread decides from every worker's
  // outcomes (src/canary/controller.ts), one decision per process.
  const d = DEFAULTS.route.canary
  const baseline = asString(o['baseline'])
  const candidate = asString(o['candidate'])
  if (baseline === undefined || candidate === undefined) return undefined
  const pools = split.map((t) => t.pool)
  if (baseline === candidate) ctx.problem(childPath(path, 'candidate'), `must differ from baseline "${baseline}"`)
  else if (pools.length !== 2 || !pools.includes(baseline) || !pools.includes(candidate)) {
    ctx.problem(path, `needs a split of exactly its two pools, "${baseline}" and "${candidate}" (the split has ${pools.length === 0 ? 'none' : pools.map((p) => `"${p}"`).join(', ')})`)
  }
  const steps: number[] = []
  asArray(o['steps']).forEach((s, i) => {
    if (typeof s !== 'number' || !Number.isInteger(s)) return
    const last = steps[steps.length - 1]
    if (last !== undefined && s <= last) ctx.problem(indexPath(childPath(path, 'steps'), i), `must be above the step before it (${last})`)
    steps.push(s)
  })
  if (tryParseDuration(o['interval']) === 0) ctx.problem(childPath(path, 'interval'), 'must be longer than 0')
  const g = asObject(o['gates']) ?? {}
  const gates: Mutable<CanarySettings['gates']> = {
    minRequests: asNumber(g['minRequests'], d.gates.minRequests),
    maxErrorRate: asNumber(g['maxErrorRate'], d.gates.maxErrorRate),
    maxP99Ratio: asNumber(g['maxP99Ratio'], d.gates.maxP99Ratio),
  }
  if (g['maxP99'] !== undefined) gates.maxP99 = asDuration(g['maxP99'], 0)
  if (typeof g['maxDivergence'] === 'number') gates.maxDivergence = g['maxDivergence']
  const canary: Mutable<CanarySettings> = {
    baseline,
    candidate,
    steps,
    interval: asDuration(o['interval'], d.interval),
    gates,
  }
  const webhook = asObject(o['webhook'])
  if (webhook !== undefined) {
    const url = asString(webhook['url'])
    if (url !== undefined) {
      let parsed: URL | undefined
      try {
        parsed = new URL(url)
      } catch {
        parsed = undefined
      }
      if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
        ctx.problem(childPath(childPath(path, 'webhook'), 'url'), `"${url}" is not an http(s) URL`)
      }
      canary.webhook = { url, timeout: asDuration(webhook['timeout'], d.webhookTimeout) }
    }
  }
  return canary
}
