/**
 * Alternative spellings of a guarded path, sent byte for byte over raw sockets (an HTTP client
 * library would normalise them first): case, repeated slashes, dot segments, encoded dots and
 * slashes, `;` parameters, NUL, backslashes, double encoding. None reaches the guarded route's
 * upstream without a token; malformed escapes are 400, never 500.
 */
import type { IncomingMessage } from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { StartedGateway } from '../helpers/gateway.js'
import type { TestUpstream } from '../helpers/upstream.js'
import { rawExchange, Resources, statusOf } from './harness.js'
import { hs256, SECRET } from './tokens.js'

const res = new Resources()
afterAll(() => res.closeAll())

let gw: StartedGateway
let guarded: TestUpstream
let open: TestUpstream
const guardedArrivals: string[] = []

beforeAll(async () => {
  guarded = await res.upstream('guarded')
  open = await res.upstream('open')
  guarded.server.on('request', (req: IncomingMessage) => guardedArrivals.push(req.url ?? ''))
  gw = await res.gateway({
    jwt: { algorithms: ['HS256'], secret: SECRET },
    pools: { guarded: { backends: [guarded.url] }, open: { backends: [open.url] } },
    routes: [
      { name: 'admin', match: { path: '/admin' }, pool: 'guarded', jwt: true },
      { name: 'open', match: { path: '/' }, pool: 'open' },
    ],
  })
})
beforeEach(() => {
  guardedArrivals.length = 0
  open.requests.length = 0
})

const get = (target: string, headers = ''): Promise<string> =>
  rawExchange(Number(new URL(gw.url).port), `GET ${target} HTTP/1.1\r\nHost: x\r\n${headers}Connection: close\r\n\r\n`)

const spellings = [
  '/admin',
  '/admin/users',
  '//admin',
  '///admin//users',
  '/./admin',
  '/x/../admin',
  '/x/..//admin',
  '/admin/../admin/users',
  '/%61dmin',
  '/adm%69n/users',
  '/%2e/admin',
  '/%2E%2E/admin',
  '/x/%2e%2e/admin',
  '/.%2e/admin',
  '/admin;jsessionid=1',
  '/..;/admin',
  '/admin%3b/users',
  '/admin%2fusers',
  '/%2fadmin',
  '/admin%5cusers',
  '/admin\\users',
  '/admin%00',
  '/admin%00.css',
  '/%252e/admin',
  '/admin%2500',
  '/ADMIN',
  '/Admin/users',
  '/admin#x',
  'http://x/admin',
  '/open/../admin',
  '/admin?x=/../open',
]

describe('spellings of a guarded path', () => {
  it('never reach the guarded upstream without a token', async () => {
    const outcomes: Record<string, number> = {}
    for (const s of spellings) {
      const answer = await get(s)
      outcomes[s] = statusOf(answer)
      // Refused (400/401/404), or served by the open route under a path that is not the guarded one.
      expect([200, 400, 401, 404], `${s} → ${answer.slice(0, 200)}`).toContain(outcomes[s])
      if (outcomes[s] === 401) expect(answer).toContain('Bearer error="invalid_token"')
    }
    expect(guardedArrivals).toEqual([])
    // Whatever the open upstream got, decoded once (as an upstream reads it), is not under /admin.
    for (const q of open.requests) {
      const first = decodeURIComponent(q.url.split('?')[0]!).split('/').filter(Boolean)[0]
      expect(first, q.url).not.toBe('admin')
    }
    // The spellings that normalise to the guarded path were matched to it (401), not to the open route.
    for (const s of ['/admin', '//admin', '/./admin', '/x/../admin', '/%61dmin', '/%2e/admin', '/x/%2e%2e/admin', '/open/../admin']) {
      expect(outcomes[s], s).toBe(401)
    }
  })

  it('with a token, the normalised spellings reach the guarded upstream under one path', async () => {
    const auth = `Authorization: Bearer ${hs256({ sub: 'ops' })}\r\n`
    for (const s of ['/admin/users', '//admin//users', '/x/../admin/users', '/adm%69n/users']) {
      expect(statusOf(await get(s, auth)), s).toBe(200)
    }
    expect(guardedArrivals).toEqual(['/admin/users', '/admin/users', '/admin/users', '/admin/users'])
  })
})

describe('malformed escapes', () => {
  it('are 400 with a JSON body, never 500', async () => {
    for (const s of ['/%', '/%4', '/%zz', '/a%g0', '/admin%', '/%%32%65', '/%u0061dmin', '/%C0%AE%C0%AE/admin']) {
      const answer = await get(s)
      expect(statusOf(answer), `${s} → ${answer.slice(0, 120)}`).toBe(400)
      expect(answer).toContain('"statusCode":400')
    }
    expect(guardedArrivals).toEqual([])
  })
})
