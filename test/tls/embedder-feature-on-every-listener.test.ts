/**
 * A feature an embedder passes in `options.features` is compiled into the routes it applies to
 * and runs on every listener: plain HTTP, HTTPS over HTTP/1.1 and HTTP/2, once per request. A
 * route it does not apply to runs none of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import type { Feature } from '../../src/pipeline/feature.js'
import type { ForwardMiddleware } from '../../src/proxy/types.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { createPki, type TestPki } from './helpers/pki.js'
import { h2Request, httpsRequest } from './helpers/clients.js'

let pki: TestPki
let up: TestUpstream
let gw: StartedGateway
let tlsPort: number
/** Request paths the stage and the middleware saw, in order. */
const stageRuns: string[] = []
const middlewareRuns: string[] = []
const compiledFor: string[] = []

const myFeature: Feature = {
  name: 'embedder-test',
  prepare() {
    return {
      compileRoute(route) {
        compiledFor.push(route.name)
        if (route.name !== 'tagged') return undefined
        const middleware: ForwardMiddleware = (next) => async (req, ctx, options) => {
          const res = await next(req, ctx, options)
          middlewareRuns.push(ctx.path)
          res.headers['x-embedder-response'] = 'yes'
          return res
        }
        return {
          stage: {
            phase: 'early',
            run(req, ctx) {
              stageRuns.push(ctx.path)
              ;(ctx.upstreamHeaders ??= {})['x-embedder'] = 'yes'
            },
          },
          middleware,
        }
      },
    }
  },
}

beforeAll(async () => {
  pki = await createPki()
  const leaf = await pki.issue('gw', { subject: '/CN=gw.test', dns: ['gw.test'], ips: ['127.0.0.1'] })
  up = await startUpstream('a')
  gw = await startGateway(
    {
      server: { tls: { port: 0, http2: true, certificates: [{ cert: leaf.cert, key: leaf.key }] } },
      pools: { main: { backends: [up.url] } },
      routes: [
        { name: 'tagged', match: { path: '/tagged' }, pool: 'main' },
        { name: 'untouched', match: { path: '/untouched' }, pool: 'main' },
      ],
    },
    { features: [myFeature] },
  )
  tlsPort = Number(new URL(gw.httpsUrl!).port)
})

afterAll(async () => {
  await gw?.close()
  await up?.close()
  await pki?.cleanup()
})

const tlsOpts = () => ({ ca: pki.ca.pem, servername: 'gw.test' })

interface Seen {
  readonly status: number
  readonly responseHeader: unknown
  readonly upstreamHeader: unknown
  readonly httpVersion: string
}

/** Send `path` on `listener`, return what the client got and what the upstream saw. */
async function via(listener: 'plain' | 'https' | 'h2', path: string): Promise<Seen> {
  const before = up.requests.length
  let status: number
  let headers: Record<string, unknown>
  let httpVersion: string
  if (listener === 'plain') {
    const res = await request(`${gw.url}${path}`)
    await res.body.dump()
    ;[status, headers, httpVersion] = [res.statusCode, res.headers, '1.1']
  } else {
    const res = listener === 'https' ? await httpsRequest(tlsPort, path, tlsOpts()) : await h2Request(tlsPort, path, tlsOpts())
    ;[status, headers, httpVersion] = [res.status, res.headers, res.httpVersion]
  }
  expect(up.requests.length).toBe(before + 1)
  const seen = up.requests[before]!
  expect(seen.url).toBe(path)
  return { status, responseHeader: headers['x-embedder-response'], upstreamHeader: seen.headers['x-embedder'], httpVersion }
}

describe('an embedder feature on every listener', () => {
  it('is compiled for every route, at start, once per configuration', () => {
    expect(compiledFor).toEqual(['tagged', 'untouched'])
  })

  for (const listener of ['plain', 'https', 'h2'] as const) {
    it(`${listener}: the stage and the middleware run once on the route the feature applies to`, async () => {
      const path = `/tagged/${listener}`
      const seen = await via(listener, path)
      expect(seen).toMatchObject({ status: 200, responseHeader: 'yes', upstreamHeader: 'yes' })
      expect(seen.httpVersion).toBe(listener === 'h2' ? '2.0' : '1.1')
      expect(stageRuns.filter((p) => p === path)).toHaveLength(1)
      expect(middlewareRuns.filter((p) => p === path)).toHaveLength(1)
    })

    it(`${listener}: a route the feature does not apply to gets neither`, async () => {
      const path = `/untouched/${listener}`
      const seen = await via(listener, path)
      expect(seen).toMatchObject({ status: 200, responseHeader: undefined, upstreamHeader: undefined })
      expect(stageRuns).not.toContain(path)
      expect(middlewareRuns).not.toContain(path)
    })
  }
})
