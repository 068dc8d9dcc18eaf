/**
 * The embedding API as a user imports it (src/index.ts, the package's entry): a configuration
 * typed by the schema, and a feature (request stage + forward middleware) from the exported
 * types, compiled into the routes it applies to.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createGateway, type Feature, type Gateway, type GatewayConfig } from '../../src/index.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

let gw: Gateway | undefined
let up: TestUpstream | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
})

/** Tags requests of routes named `tagged-*`: a header upstream (stage) and one back (middleware). */
const tagging: Feature = {
  name: 'tagging',
  prepare: () => ({
    compileRoute(route) {
      if (!route.name.startsWith('tagged-')) return undefined
      return {
        stage: {
          phase: 'late',
          run(_request, ctx) {
            ;(ctx.upstreamHeaders ??= {})['x-tag'] = route.name
          },
        },
        middleware: (next) => async (request, ctx, options) => {
          const res = await next(request, ctx, options)
          res.headers['x-tagged'] = 'yes'
          return res
        },
      }
    },
  }),
}

describe('the embedding API', () => {
  it('takes a schema-typed configuration and an embedder feature from the package entry', async () => {
    up = await startUpstream('embedded')
    const config: GatewayConfig = {
      server: { host: '127.0.0.1', port: 0 },
      admin: false,
      log: { access: false },
      pools: { api: { backends: [up.url], algorithm: 'round-robin' } },
      routes: [
        { name: 'tagged-api', match: { path: '/tagged' }, pool: 'api' },
        { name: 'plain', match: { path: '/' }, pool: 'api' },
      ],
    }
    gw = await createGateway(config, { logger: false, features: [tagging] })
    await gw.listen()
    const tagged = await fetch(`${gw.url}/tagged/x`)
    const plain = await fetch(`${gw.url}/other`)
    expect(tagged.headers.get('x-tagged')).toBe('yes')
    expect(plain.headers.get('x-tagged')).toBeNull()
    expect(up.requests.map((r) => r.headers['x-tag'])).toEqual(['tagged-api', undefined])
  })
})
