/**
 * Explain and the data plane walk the same pool chain: for each balancing algorithm, alternating
 * `POST /api/explain` and the real request, the backend that serves is explain's first
 * candidate every time (explaining moves no balancer state), and a pool whose backends are all
 * down shows, and uses, its fallback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { freePort, startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

type Answer = Record<string, any>

let ups: TestUpstream[] = []
let gw: StartedGateway
let deadUrls: string[] = []

const GROUPS = {
  rr: ['rr-1', 'rr-2', 'rr-3'],
  wrr: ['wrr-1', 'wrr-2', 'wrr-3'],
  ch: ['ch-1', 'ch-2', 'ch-3', 'ch-4'],
  ih: ['ih-1', 'ih-2', 'ih-3'],
  st: ['st-1', 'st-2', 'st-3'],
  fb: ['fb-1', 'fb-2'],
} as const

const urlsOf = (group: keyof typeof GROUPS): string[] => GROUPS[group].map((n) => ups.find((u) => u.name === n)!.url)
const nameOf = (url: string): string => ups.find((u) => u.url === url)?.name ?? url

beforeAll(async () => {
  ups = await Promise.all(Object.values(GROUPS).flat().map((n) => startUpstream(n)))
  deadUrls = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`]
  const wrr = urlsOf('wrr')
  gw = await startGateway({
    server: { trustedProxies: ['127.0.0.1'] },
    pools: {
      rr: { algorithm: 'round-robin', backends: urlsOf('rr') },
      wrr: { algorithm: 'weighted-round-robin', backends: [{ url: wrr[0], weight: 1 }, { url: wrr[1], weight: 2 }, { url: wrr[2], weight: 3 }] },
      ch: { algorithm: 'consistent-hash', hashOn: 'header:x-user-id', backends: urlsOf('ch') },
      ih: { algorithm: 'ip-hash', backends: urlsOf('ih') },
      st: { algorithm: 'round-robin', stickySession: { cookie: 'sy_backend', ttl: '1h' }, backends: urlsOf('st') },
      down: {
        backends: deadUrls,
        healthCheck: { path: '/health', interval: '50ms', timeout: '500ms', unhealthyThreshold: 1, healthyThreshold: 1 },
        fallback: 'fb',
      },
      fb: { algorithm: 'round-robin', backends: urlsOf('fb') },
    },
    routes: ['rr', 'wrr', 'ch', 'ih', 'st', 'down'].map((p) => ({ name: p, match: { path: `/${p}` }, pool: p })),
  })
})

afterAll(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
})

interface Req {
  readonly path: string
  readonly headers?: Record<string, string>
  readonly clientIp?: string
}

async function explain(r: Req): Promise<Answer> {
  const res = await request(`${gw.adminUrl}/api/explain`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ method: 'GET', host: '127.0.0.1', path: r.path, headers: r.headers ?? {}, ...(r.clientIp ? { clientIp: r.clientIp } : {}) }),
  })
  expect(res.statusCode).toBe(200)
  return (await res.body.json()) as Answer
}

async function real(r: Req): Promise<{ name: string; setCookie: string | undefined }> {
  const headers: Record<string, string> = { ...r.headers }
  if (r.clientIp) headers['x-forwarded-for'] = r.clientIp
  const res = await request(`${gw.url}${r.path}`, { headers })
  await res.body.dump()
  expect(res.statusCode).toBe(200)
  const sc = res.headers['set-cookie']
  return { name: String(res.headers['x-upstream']), setCookie: Array.isArray(sc) ? sc[0] : sc }
}

/** Explain, then send: the server equals explain's first candidate and `backend`. Returns it. */
async function explainThenSend(r: Req, pool: string): Promise<string> {
  const a = await explain(r)
  expect(a.outcome.action).toBe('forward')
  expect(a.route).toBe(pool)
  expect(a.pools[0].pool).toBe(pool)
  const first = nameOf(a.pools[0].candidates[0].url)
  expect(nameOf(a.backend.url)).toBe(first)
  const served = await real(r)
  expect(served.name, `${r.path} ${JSON.stringify(r.headers ?? {})} ${r.clientIp ?? ''}`).toBe(first)
  return served.name
}

describe('explain names the backend the data plane uses', () => {
  it('round-robin: over two rotations, each explained choice serves the next request', async () => {
    const served: string[] = []
    for (let i = 0; i < 6; i++) served.push(await explainThenSend({ path: `/rr/${i}` }, 'rr'))
    // The rotation really rotated (explain did not advance it, the requests did).
    expect(new Set(served)).toEqual(new Set(GROUPS.rr))
    expect(served.slice(0, 3)).toEqual(served.slice(3, 6))
  })

  it('weighted-round-robin: twelve alternations follow the smooth weighted order', async () => {
    const served: string[] = []
    for (let i = 0; i < 12; i++) served.push(await explainThenSend({ path: `/wrr/${i}` }, 'wrr'))
    const count = (n: string): number => served.filter((s) => s === n).length
    expect([count('wrr-1'), count('wrr-2'), count('wrr-3')]).toEqual([2, 4, 6])
  })

  it('consistent-hash on a header: each key goes where explain says', async () => {
    const served = new Set<string>()
    for (let i = 0; i < 16; i++) {
      const key = `user-${i * 31337}`
      served.add(await explainThenSend({ path: '/ch/x', headers: { 'x-user-id': key } }, 'ch'))
      const again = await explain({ path: '/ch/y', headers: { 'x-user-id': key } })
      expect(again.pools[0].hashKey).toBe(key)
    }
    expect(served.size).toBeGreaterThanOrEqual(3)
  })

  it('ip-hash: each client address goes where explain says', async () => {
    const served = new Set<string>()
    for (let i = 0; i < 16; i++) served.add(await explainThenSend({ path: '/ih/x', clientIp: `10.1.${i}.${(i * 37) % 250}` }, 'ih'))
    expect(served.size).toBeGreaterThanOrEqual(2)
  })

  it('stickySession: without a cookie the rotation, with one the pinned backend', async () => {
    const pinnedTo: string[] = []
    for (let i = 0; i < 3; i++) {
      const first = await explain({ path: '/st/x' })
      expect(first.pools[0].stickySession).toMatchObject({ cookie: 'sy_backend', pinned: null })
      const fresh = await real({ path: '/st/x' })
      expect(fresh.name).toBe(nameOf(first.pools[0].candidates[0].url))
      expect(fresh.setCookie).toMatch(/^sy_backend=/)
      const cookie = fresh.setCookie!.split(';')[0]!
      // The pin holds against the rotation, alternating explain and real requests.
      for (let k = 0; k < 3; k++) {
        const a = await explain({ path: '/st/x', headers: { cookie } })
        expect(nameOf(a.pools[0].stickySession.pinned)).toBe(fresh.name)
        expect(nameOf(a.pools[0].candidates[0].url)).toBe(fresh.name)
        expect((await real({ path: '/st/x', headers: { cookie } })).name).toBe(fresh.name)
      }
      pinnedTo.push(fresh.name)
    }
    expect(new Set(pinnedTo).size).toBe(3)
  })

  it('a pool whose backends are all down: explain shows the fallback pool and the data plane uses it', async () => {
    await waitFor(() => !gw.pools.get('down')!.hasAvailable(), 5000, 20, 'both backends of "down" marked down')
    const served: string[] = []
    for (let i = 0; i < 4; i++) {
      const a = await explain({ path: `/down/${i}` })
      expect(a.outcome.action).toBe('forward')
      expect(a.pools.map((p: Answer) => [p.pool, p.role])).toEqual([
        ['down', 'split'],
        ['fb', 'fallback'],
      ])
      expect(a.pools[0].candidates).toEqual([])
      expect(a.pools[0].unavailable.map((b: Answer) => b.url).sort()).toEqual([...deadUrls].sort())
      expect(a.backend).toMatchObject({ pool: 'fb', fallbackUsed: true })
      const first = nameOf(a.pools[1].candidates[0].url)
      expect(nameOf(a.backend.url)).toBe(first)
      const r = await real({ path: `/down/${i}` })
      expect(r.name).toBe(first)
      served.push(r.name)
    }
    expect(new Set(served)).toEqual(new Set(GROUPS.fb))
    // The data plane says so too: served by the fallback pool, chosen pool "down".
    const downLogs = () => gw.logs.filter((l) => l.type === 'access' && String(l.path).startsWith('/down/'))
    await waitFor(() => downLogs().length === 4, 5000, 10, 'the access-log lines of /down')
    for (const l of downLogs()) expect(l).toMatchObject({ route: 'down', splitPool: 'down', pool: 'fb', fallback: true, status: 200 })
  })
})
