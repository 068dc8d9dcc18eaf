/** Read series out of a /metrics scrape (Prometheus text format). */
import { request } from 'undici'

export async function scrape(adminUrl: string): Promise<string> {
  const res = await request(`${adminUrl}/metrics`)
  return res.body.text()
}

/**
 * The value of the series `name` whose labels include `labels` (every given pair, any others),
 * summed when several match; undefined when none does.
 */
export function valueOf(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const have: Record<string, string> = {}
    for (const pair of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[pair[1]!] = pair[2]!
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum = (sum ?? 0) + Number(m[4])
  }
  return sum
}
