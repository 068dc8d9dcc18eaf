/**
 * `respond:` and `redirect:` routes over real sockets: the gateway answers itself, the
 * upstream never sees the request, the route's response headers and features still apply, and
 * the configuration refuses a route with more than one action.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { normalizeConfig, ConfigError } from '../../src/config/index.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup(routes: Record<string, unknown>[]): Promise<{ gw: StartedGateway; up: TestUpstream; base: string }> {
  const up = await startUpstream('up')
  cleanups.push(() => up.close())
  const gw = await startGateway({
    pools: { main: { backends: [up.url] } },
    routes: [...routes, { name: 'rest', match: { path: '/' }, pool: 'main' }],
  })
  cleanups.push(() => gw.close())
  return { gw, up, base: gw.url }
}

describe('route actions', () => {
  it('respond answers with the configured status, headers and body, never reaching the upstream', async () => {
    const { up, base } = await setup([
      {
        name: 'teapot',
        match: { pathExact: '/teapot' },
        respond: { status: 418, headers: { 'x-kind': 'teapot' }, body: 'short and stout' },
        headers: { response: { set: { 'x-route': 'teapot' } } },
      },
    ])
    const res = await fetch(`${base}/teapot`)
    expect(res.status).toBe(418)
    expect(res.headers.get('x-kind')).toBe('teapot')
    expect(res.headers.get('x-route')).toBe('teapot')
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(res.headers.get('x-request-id')).toBeTruthy()
    expect(await res.text()).toBe('short and stout')
    const head = await fetch(`${base}/teapot`, { method: 'HEAD' })
    expect(head.status).toBe(418)
    expect(head.headers.get('content-length')).toBe('15')
    expect(up.requests).toHaveLength(0)
  })

  it('respond with 204 sends no body', async () => {
    const { base } = await setup([{ name: 'empty', match: { pathExact: '/ok' }, respond: { status: 204 } }])
    const res = await fetch(`${base}/ok`)
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
  })

  it('redirect sends Location with the configured status, without path or query by default', async () => {
    const { up, base } = await setup([{ name: 'old', match: { path: '/docs/v1' }, redirect: { to: 'https://docs.example.com/v2', status: 301 } }])
    const res = await fetch(`${base}/docs/v1/intro?x=1`, { redirect: 'manual' })
    expect(res.status).toBe(301)
    expect(res.headers.get('location')).toBe('https://docs.example.com/v2')
    expect(up.requests).toHaveLength(0)
  })

  it('redirect keeps the path after the matched prefix and the query when asked', async () => {
    const { base } = await setup([
      { name: 'old', match: { path: '/docs/v1' }, redirect: { to: 'https://docs.example.com/v2/', keepPath: true, keepQuery: true, status: 308 } },
      { name: 'moved', match: { pathExact: '/moved' }, redirect: { to: '/new', keepQuery: true } },
    ])
    const res = await fetch(`${base}/docs/v1/guide/intro?lang=en`, { redirect: 'manual' })
    expect(res.status).toBe(308)
    expect(res.headers.get('location')).toBe('https://docs.example.com/v2/guide/intro?lang=en')
    const top = await fetch(`${base}/docs/v1`, { redirect: 'manual' })
    expect(top.headers.get('location')).toBe('https://docs.example.com/v2')
    const moved = await fetch(`${base}/moved?a=b`, { redirect: 'manual' })
    expect(moved.status).toBe(302)
    expect(moved.headers.get('location')).toBe('/new?a=b')
  })

  it('redirect does not let dot segments in the kept path escape the target', async () => {
    const { base } = await setup([{ name: 'old', match: { path: '/docs' }, redirect: { to: 'https://docs.example.com/v2', keepPath: true } }])
    const res = await fetch(`${base}/docs/a/%2e%2e/b/./c`, { redirect: 'manual' })
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe('https://docs.example.com/v2/b/c')
  })

  it('config: a route needs exactly one of pool, split, respond, redirect', () => {
    const pools = { main: { backends: ['http://127.0.0.1:9'] } }
    const problems = (route: Record<string, unknown>): string[] => {
      try {
        normalizeConfig({ pools, routes: [{ name: 'r', match: { path: '/' }, ...route }] })
        return []
      } catch (err) {
        return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`)
      }
    }
    expect(problems({ pool: 'main', respond: { body: 'x' } })).toEqual(['routes[0]: use exactly one of pool, split, respond, redirect (found pool/split, respond)'])
    expect(problems({ respond: { status: 200 }, redirect: { to: '/x' } })).toEqual(['routes[0]: use exactly one of pool, split, respond, redirect (found respond, redirect)'])
    expect(problems({})).toEqual(['routes[0]: needs pool, split, respond, redirect (where matching requests go)'.replace('split, respond, redirect', 'split, respond or redirect')])
    expect(problems({ respond: { status: 204, body: 'x' } })).toEqual(['routes[0].respond.body: a 204 response has no body'])
    expect(problems({ redirect: { to: 'javascript:alert(1)' } })).toEqual(['routes[0].redirect.to: must be an http(s) URL or a path starting with "/"'])
    expect(problems({ redirect: { to: '//evil.example' } })[0]).toMatch(/^routes\[0\]\.redirect\.to: a scheme-relative target/)
    expect(problems({ respond: { body: 'x' } })).toEqual([])
  })
})
