/**
 * The verifier follows configuration reloads: a new secret applies at once, and a reload that
 * leaves the jwt section unchanged keeps the compiled verifier (and its cached key set).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/upstream.js'
import { Resources, send } from './harness.js'
import { startKeyServer } from './key-server.js'
import { hs256, rsaKeyPair, SECRET } from './tokens.js'

const res = new Resources()
afterAll(() => res.closeAll())

const OTHER_SECRET = 'a-different-secret-that-is-32-bytes!!'

describe('jwt and reload', () => {
  it('applies a new secret on reload', async () => {
    const up = await res.upstream()
    const config = (secret: string) => ({
      server: { host: '127.0.0.1', port: 0 },
      admin: false,
      jwt: { algorithms: ['HS256'], secret },
      pools: { main: { backends: [up.url] } },
      routes: [{ name: 'api', match: { path: '/' }, pool: 'main', jwt: true }],
    })
    const gw = await res.gateway(config(SECRET))
    const call = (token: string) => send(`${gw.url}/x`, { headers: { authorization: `Bearer ${token}` } })
    expect((await call(hs256({ sub: 'a' }))).status).toBe(200)
    expect(await gw.reload(config(OTHER_SECRET))).toMatchObject({ ok: true })
    expect((await call(hs256({ sub: 'a' }))).status).toBe(401)
    expect((await call(hs256({ sub: 'a' }, OTHER_SECRET))).status).toBe(200)
    expect(up.requests).toHaveLength(2)
  })

  it('keeps the key set across a reload that does not touch the jwt section', async () => {
    const idp = await startKeyServer()
    res.add(() => idp.close(), undefined)
    const k = rsaKeyPair('k')
    idp.serve({ keys: [k.jwk] })
    const up = await res.upstream()
    const config = (routePath: string) => ({
      server: { host: '127.0.0.1', port: 0 },
      admin: false,
      jwt: { algorithms: ['RS256'], jwksUrl: idp.url },
      pools: { main: { backends: [up.url] } },
      routes: [{ name: 'api', match: { path: routePath }, pool: 'main', jwt: true }],
    })
    const gw = await res.gateway(config('/'))
    await waitFor(() => idp.hits === 1, 2000, 10, 'startup key fetch')
    expect(await gw.reload(config('/v2'))).toMatchObject({ ok: true })
    const r = await send(`${gw.url}/v2/x`, { headers: { authorization: `Bearer ${k.sign({ sub: 'a' })}` } })
    expect(r.status).toBe(200)
    expect(idp.hits).toBe(1)
  })
})
