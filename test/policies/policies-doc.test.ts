/**
 * docs/policies.md's curl lines work: every line `curl … # NNN` is run (its options parsed, the
 * request sent with undici) against config/examples/edge-policies.yaml with the backend the page
 * starts, and must answer NNN. A changed default, a renamed key or a broken example fails here.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { parse as parseYaml } from 'yaml'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const root = join(import.meta.dirname, '..', '..')
const doc = readFileSync(join(root, 'docs', 'policies.md'), 'utf8')
const lines = doc.split('\n').filter((l) => /^curl .*#\s*\d{3}\s*$/.test(l))

/** Shell words of a line (single and double quotes, no expansions), without the trailing comment. */
function words(line: string): string[] {
  const out: string[] = []
  let cur = ''
  let quote: string | undefined
  let inWord = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quote !== undefined) {
      if (c === quote) quote = undefined
      else cur += c
    } else if (c === "'" || c === '"') {
      quote = c
      inWord = true
    } else if (c === '#' && !inWord) break
    else if (c === ' ') {
      if (inWord) out.push(cur)
      cur = ''
      inWord = false
    } else {
      cur += c
      inWord = true
    }
  }
  if (inWord) out.push(cur)
  return out
}

interface Curl {
  method: string
  url: string
  headers: Record<string, string>
  body?: string
}

function parseCurl(line: string): Curl {
  const w = words(line).slice(1)
  const c: Curl = { method: 'GET', url: '', headers: {} }
  for (let i = 0; i < w.length; i++) {
    const a = w[i]!
    if (a === '-i' || a === '-s') continue
    else if (a === '-o' || a === '-w') i++
    else if (a === '-X') c.method = w[++i]!
    else if (a === '-H') {
      const h = w[++i]!
      const colon = h.indexOf(':')
      c.headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim()
    } else if (a === '-u') c.headers['authorization'] = `Basic ${Buffer.from(w[++i]!).toString('base64')}`
    else if (a === '--compressed') c.headers['accept-encoding'] = 'deflate, gzip, br, zstd'
    else if (a === '--data-binary') {
      const v = w[++i]!
      c.body = v === '@/dev/null' ? '' : v
      if (c.method === 'GET') c.method = 'POST'
    } else if (a.startsWith('http://')) c.url = a
    else throw new Error(`unsupported curl option in docs/policies.md: ${a}`)
  }
  return c
}

let gw: StartedGateway
let up: TestUpstream

beforeAll(async () => {
  up = await startUpstream('backend', (q, s) => {
    s.setHeader('content-type', 'application/json')
    s.end(JSON.stringify({ path: q.url, pad: 'x'.repeat(2000) }))
  })
  const config = parseYaml(readFileSync(join(root, 'config', 'examples', 'edge-policies.yaml'), 'utf8')) as Record<string, Record<string, unknown>>
  delete config['server']!['port']
  gw = await startGateway(config, { env: { POLICY_BACKEND: up.url } })
})
afterAll(async () => {
  await gw?.close()
  await up?.close()
})

describe('docs/policies.md', () => {
  it('has curl lines to run', () => {
    expect(lines.length).toBeGreaterThanOrEqual(15)
  })

  it.each(lines.map((l) => [l]))('%s', async (line) => {
    const expected = Number(/#\s*(\d{3})\s*$/.exec(line)![1])
    const c = parseCurl(line)
    expect(c.url.startsWith('http://127.0.0.1:8080/'), 'the page talks to the example on 127.0.0.1:8080').toBe(true)
    const res = await request(c.url.replace('http://127.0.0.1:8080', gw.url), { method: c.method as 'GET', headers: c.headers, ...(c.body !== undefined ? { body: c.body } : {}) })
    await res.body.dump()
    expect(res.statusCode).toBe(expected)
  })
})
