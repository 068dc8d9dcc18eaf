/**
 * docs/dashboards/switchyard.json (the Grafana dashboard we ship) queries only series the
 * gateway exports, with labels those series have: a renamed metric or label fails here, not in
 * an operator's empty panel.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { scrape } from './scrape.js'

interface Panel {
  readonly title?: string
  readonly targets?: readonly { readonly expr: string }[]
}

const dashboard = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../docs/dashboards/switchyard.json'), 'utf8')) as {
  panels: Panel[]
  templating: { list: { query?: string | { query: string } }[] }
}
const SUFFIXES = ['_bucket', '_count', '_sum'] as const
const LABEL_WORDS = new Set(['le', 'by', 'without', 'on', 'ignoring'])

let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
})

/** Every expression of the dashboard, with where it is. */
function expressions(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = []
  for (const p of dashboard.panels) for (const t of p.targets ?? []) out.push({ where: p.title ?? '?', expr: t.expr })
  for (const v of dashboard.templating.list) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query
    if (q?.includes('switchyard_')) out.push({ where: 'templating', expr: q })
  }
  return out
}

describe('Grafana dashboard', () => {
  it('is valid JSON with panels for RED per route and pool, backends, cache and rate limits', () => {
    const titles = dashboard.panels.map((p) => p.title ?? '').join('\n')
    for (const want of [/by route/i, /by pool/i, /backend/i, /cache/i, /rate-limit/i]) expect(titles).toMatch(want)
  })

  it('queries only metrics /metrics exposes, grouping and selecting by labels they have', async () => {
    gw = await startGateway({ pools: { p: { backends: ['http://127.0.0.1:9'] } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] })
    const text = await scrape(gw.adminUrl!)
    const exposed = new Set([...text.matchAll(/^# TYPE (\w+) /gm)].map((m) => m[1]!))
    const list = expressions()
    expect(list.length).toBeGreaterThan(20)
    for (const { where, expr } of list) {
      const names = [...expr.matchAll(/\b(switchyard_\w+)/g)].map((m) => m[1]!)
      expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0)
      const bases = names.map((n) => SUFFIXES.reduce((s, suf) => (s.endsWith(suf) && !exposed.has(s) ? s.slice(0, -suf.length) : s), n))
      for (const base of bases) expect(exposed, `${where}: ${base} is not in /metrics`).toContain(base)
      // Labels in selectors and in by (...) must be labels of the metrics in that expression.
      const labelNames = new Set<string>(['le'])
      for (const base of bases) for (const l of (gw.metrics.registry.getSingleMetric(base) as unknown as { labelNames: string[] }).labelNames) labelNames.add(l)
      const used = [
        ...[...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) => [...m[1]!.matchAll(/(\w+)\s*(?:=~|!=|!~|=)/g)].map((x) => x[1]!)),
        ...[...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((s) => s.trim())),
        ...[...expr.matchAll(/label_values\(\w+,\s*(\w+)\)/g)].map((m) => m[1]!),
      ]
      for (const l of used) if (!LABEL_WORDS.has(l)) expect(labelNames, `${where}: label "${l}" in ${expr}`).toContain(l)
    }
  })
})
