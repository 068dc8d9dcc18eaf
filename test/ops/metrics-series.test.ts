/**
 * GET /metrics after real traffic: every series the SPEC names with exactly its labels, plus
 * in-flight, upstream latency per pool, retries, fallback use, health checks, reloads,
 * per-backend series and Node process metrics; label values stay bounded (no raw paths).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { freePort, startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

interface Sample {
  readonly name: string
  readonly labels: Record<string, string>
  readonly value: number
}

function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ')
      types.set(name!, type!)
      continue
    }
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    expect(m, `exposition line: ${line}`).not.toBeNull()
    const labels: Record<string, string> = {}
    for (const l of (m![2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!
    samples.push({ name: m![1]!, labels, value: Number(m![3]) })
  }
  return { samples, types }
}

let ups: TestUpstream[] = []
let gw: StartedGateway
let deadUrl: string
let text: string
let parsed: ReturnType<typeof parseExposition>

beforeAll(async () => {
  ups = await Promise.all(['a', 'b', 'spare'].map((n) => startUpstream(n)))
  deadUrl = `http://127.0.0.1:${await freePort()}`
  const sick = await startUpstream('sick', (req, res) => {
    res.writeHead(req.url === '/health' ? 500 : 200).end('{}')
  })
  ups.push(sick)
  gw = await startGateway(
    {
      pools: {
        main: {
          backends: [deadUrl, ups[0]!.url, ups[1]!.url],
          retry: { attempts: 2, on: ['connect-error', 502, 503, 504] },
          circuitBreaker: { consecutiveFailures: 1, openDuration: '1m', maxEjectionPercent: 50 },
        },
        spare: { backends: [ups[2]!.url] },
        checked: { backends: [sick.url], healthCheck: { path: '/health', interval: '50ms', unhealthyThreshold: 1 }, fallback: 'spare' },
      },
      routes: [
        { name: 'limited', match: { path: '/limited' }, pool: 'main', rateLimit: { max: 1, window: '1m', key: 'route' } },
        { name: 'cached', match: { path: '/cached' }, pool: 'main', cache: { ttl: '30s' } },
        { name: 'degraded', match: { path: '/degraded' }, pool: 'checked' },
        { name: 'app', match: { path: '/' }, pool: 'main' },
      ],
    },
    { processMetrics: true },
  )
  await waitFor(() => gw.pools.get('checked')!.backends[0]!.healthy === false, 5000, 20, 'sick backend marked down by its health check')
  const get = async (path: string): Promise<number> => {
    const res = await request(`${gw.url}${path}`)
    await res.body.dump()
    return res.statusCode
  }
  // Distinct raw paths: none of them may become a label value.
  for (let i = 0; i < 12; i++) expect(await get(`/items/${i}?q=${i}`)).toBe(200)
  expect(await get('/limited')).toBe(200)
  expect(await get('/limited')).toBe(429)
  await get('/cached/x')
  await get('/cached/x')
  expect(await get('/degraded/1')).toBe(200)
  await gw.reload({ pools: { x: { backends: ['nope'] } } })
  text = await (await request(`${gw.adminUrl}/metrics`)).body.text()
  parsed = parseExposition(text)
})

afterAll(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
})

function series(name: string): Sample[] {
  return parsed.samples.filter((s) => s.name === name)
}

function labelSets(name: string): Set<string> {
  return new Set(series(name).map((s) => Object.keys(s.labels).sort().join(',')))
}

describe('GET /metrics', () => {
  it.each([
    ['switchyard_requests_total', 'counter', 'method,pool,route,status'],
    ['switchyard_ratelimit_rejected_total', 'counter', 'route'],
    ['switchyard_cache_requests_total', 'counter', 'result,route'],
    ['switchyard_backend_up', 'gauge', 'backend,pool'],
    ['switchyard_circuit_state', 'gauge', 'backend,pool'],
    ['switchyard_backend_healthy', 'gauge', 'backend,pool'],
    ['switchyard_backend_active_requests', 'gauge', 'backend,pool'],
    ['switchyard_backend_responses_total', 'counter', 'backend,class,pool'],
    ['switchyard_retries_total', 'counter', 'pool'],
    ['switchyard_fallback_total', 'counter', 'from,route,to'],
    ['switchyard_upstream_errors_total', 'counter', 'kind,pool'],
    ['switchyard_upstream_events_total', 'counter', 'event,pool'],
    ['switchyard_config_reloads_total', 'counter', 'result'],
    ['switchyard_config_last_reload_success', 'gauge', ''],
    ['switchyard_requests_in_flight', 'gauge', ''],
  ])('%s is a %s with labels {%s}', (name, type, labels) => {
    expect(parsed.types.get(name)).toBe(type)
    expect(series(name).length, `${name} has samples`).toBeGreaterThan(0)
    expect(labelSets(name)).toEqual(new Set([labels]))
  })

  it.each([
    ['switchyard_request_duration_seconds', 'class,pool,route'],
    ['switchyard_upstream_duration_seconds', 'pool'],
    ['switchyard_backend_response_seconds', 'backend,pool'],
  ])('%s is a histogram by {%s}', (name, labels) => {
    expect(parsed.types.get(name)).toBe('histogram')
    expect(labelSets(`${name}_bucket`)).toEqual(new Set([`${labels},le`.split(',').sort().join(',')]))
    expect(labelSets(`${name}_count`)).toEqual(new Set([labels]))
    expect(series(`${name}_bucket`).some((s) => s.labels.le === '+Inf' && s.value > 0)).toBe(true)
  })

  it('counts requests by route, pool and status code', () => {
    const app200 = series('switchyard_requests_total').find((s) => s.labels.route === 'app' && s.labels.pool === 'main' && s.labels.status === '200')
    expect(app200?.value).toBe(12)
    expect(series('switchyard_requests_total').find((s) => s.labels.route === 'limited' && s.labels.status === '429')?.value).toBe(1)
    expect(series('switchyard_ratelimit_rejected_total')).toEqual([{ name: 'switchyard_ratelimit_rejected_total', labels: { route: 'limited' }, value: 1 }])
    expect(series('switchyard_cache_requests_total').filter((s) => s.labels.route === 'cached').reduce((n, s) => n + s.value, 0)).toBe(2)
  })

  it('shows the dead backend ejected (circuit 2, down) and the retry that got around it', () => {
    const circuit = (url: string) => series('switchyard_circuit_state').find((s) => s.labels.pool === 'main' && s.labels.backend === url)?.value
    expect(circuit(deadUrl)).toBe(2)
    expect(circuit(ups[0]!.url)).toBe(0)
    expect(series('switchyard_backend_up').find((s) => s.labels.backend === deadUrl)?.value).toBe(0)
    expect(series('switchyard_retries_total').find((s) => s.labels.pool === 'main')?.value).toBeGreaterThanOrEqual(1)
    expect(series('switchyard_upstream_errors_total').find((s) => s.labels.pool === 'main' && s.labels.kind === 'connect-error')?.value).toBeGreaterThanOrEqual(1)
    expect(series('switchyard_upstream_events_total').find((s) => s.labels.pool === 'main' && s.labels.event === 'ejection')?.value).toBe(1)
  })

  it('shows the health-check verdict and the fallback it caused', () => {
    const sick = ups[3]!.url
    expect(series('switchyard_backend_healthy').find((s) => s.labels.pool === 'checked' && s.labels.backend === sick)?.value).toBe(0)
    expect(series('switchyard_backend_healthy').find((s) => s.labels.pool === 'spare')?.value).toBe(1)
    expect(series('switchyard_upstream_events_total').find((s) => s.labels.pool === 'checked' && s.labels.event === 'health')?.value).toBeGreaterThanOrEqual(1)
    expect(series('switchyard_fallback_total')).toContainEqual({ name: 'switchyard_fallback_total', labels: { route: 'degraded', from: 'checked', to: 'spare' }, value: 1 })
    expect(series('switchyard_backend_responses_total')).toContainEqual({ name: 'switchyard_backend_responses_total', labels: { pool: 'spare', backend: ups[2]!.url, class: '2xx' }, value: 1 })
  })

  it('counts reloads and remembers whether the last one succeeded', () => {
    expect(series('switchyard_config_reloads_total')).toContainEqual({ name: 'switchyard_config_reloads_total', labels: { result: 'rejected' }, value: 1 })
    expect(series('switchyard_config_last_reload_success')[0]?.value).toBe(0)
  })

  it('includes Node process metrics', () => {
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      expect(parsed.types.has(name), name).toBe(true)
    }
  })

  it('keeps label values bounded: no raw paths or queries', () => {
    for (const s of parsed.samples) {
      for (const v of Object.values(s.labels)) {
        expect(v, `${s.name} label value`).not.toMatch(/\/items\/|\?q=|\/cached\/x|\/degraded\/1/)
      }
    }
    // Route and pool labels come only from configuration names (plus "-" for unrouted requests).
    const routes = new Set(series('switchyard_requests_total').map((s) => s.labels.route))
    for (const r of routes) expect(['limited', 'cached', 'degraded', 'app', '-']).toContain(r)
  })
})
