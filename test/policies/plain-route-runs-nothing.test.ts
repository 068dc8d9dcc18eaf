/**
 * A route without edge policies runs nothing for them: its compiled pipeline names no policy
 * feature and has no stages, while a route with them gets exactly the ones it uses.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { apiKeyHash } from '../../src/policies/api-key.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'

let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  gw = undefined
})

describe('per-route compilation of the edge policies', () => {
  it('a plain route has no policy stages or middlewares; a policy route has only its own', async () => {
    gw = await startGateway({
      pools: { p: { backends: ['http://127.0.0.1:9'] } },
      routes: [
        { name: 'plain', match: { path: '/plain' }, pool: 'p' },
        {
          name: 'edge',
          match: { path: '/edge' },
          pool: 'p',
          cors: { origins: ['https://a.example'] },
          apiKey: { keys: [{ name: 'k', hash: `sha256:${apiKeyHash('k')}` }] },
          compress: true,
        },
        { name: 'static', match: { path: '/static' }, respond: { body: 'hi' } },
      ],
    })
    const POLICIES = ['access', 'cors', 'api-key', 'basic-auth', 'compress', 'forwarded-prefix', 'header-templates', 'route-action']
    const policiesOf = (features: readonly string[]) => features.filter((f) => POLICIES.includes(f))
    const [plain, edge, stat] = gw.state.pipelines
    expect(policiesOf(plain!.features)).toEqual([])
    expect(policiesOf(edge!.features)).toEqual(['cors', 'api-key', 'compress'])
    expect(policiesOf(stat!.features)).toEqual(['route-action'])
    // The plain route's stages are exactly those of the features that are not policies.
    expect(plain!.stages?.length ?? 0).toBe(edge!.stages!.length - 2)
  })
})
