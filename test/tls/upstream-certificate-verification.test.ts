import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { createPki, type Ca, type TestPki } from './helpers/pki.js'
import { startHttpsUpstream, type HttpsUpstream } from './helpers/https-upstream.js'

let pki: TestPki
let internalCa: Ca
let byIp: HttpsUpstream
let byName: HttpsUpstream
let gw: StartedGateway | undefined

beforeAll(async () => {
  pki = await createPki()
  internalCa = await pki.newCa('internal-ca', '/CN=Internal CA')
  const [ipLeaf, nameLeaf] = await Promise.all([
    pki.issue('backend-ip', { subject: '/CN=backend', ips: ['127.0.0.1'], ca: internalCa }),
    pki.issue('backend-name', { subject: '/CN=users.internal', dns: ['users.internal'], ca: internalCa }),
  ])
  byIp = await startHttpsUpstream(ipLeaf)
  byName = await startHttpsUpstream(nameLeaf)
})
afterEach(async () => {
  await gw?.close()
  gw = undefined
})
afterAll(async () => {
  await byIp?.close()
  await byName?.close()
  await pki?.cleanup()
})

async function get(path = '/x'): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(`${gw!.url}${path}`)
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
}

describe('upstream TLS verification', () => {
  it('answers 502 when the backend certificate does not chain to a trusted CA', async () => {
    // No pool `ca`: Node's default trust store applies, which does not know the internal CA.
    gw = await startGateway(simpleConfig([byIp.url]))
    const res = await get()
    expect(res.status).toBe(502)
    expect(res.body).toEqual({ statusCode: 502, error: 'Bad Gateway', message: 'upstream TLS verification failed', code: 'SWITCHYARD_UPSTREAM_TLS' })
  })

  it('answers 200 when the pool trusts the backend CA (tls.ca)', async () => {
    gw = await startGateway(simpleConfig([byIp.url], { pool: { tls: { ca: internalCa.cert } } }))
    const res = await get('/hello?x=1')
    expect(res.status).toBe(200)
    expect(res.body.url).toBe('/hello?x=1')
  })

  it('verifies the name given in tls.servername, and sends it as SNI', async () => {
    // The certificate names users.internal only; the backend is addressed by IP.
    gw = await startGateway(simpleConfig([byName.url], { pool: { tls: { ca: internalCa.cert } } }))
    expect((await get()).status).toBe(502)
    await gw.close()
    gw = await startGateway(simpleConfig([byName.url], { pool: { tls: { ca: internalCa.cert, servername: 'users.internal' } } }))
    expect((await get()).status).toBe(200)
    expect(byName.servernames).toContain('users.internal')
  })

  it('skips verification only when the pool says rejectUnauthorized: false, and warns about it', async () => {
    gw = await startGateway(simpleConfig([byIp.url], { pool: { tls: { rejectUnauthorized: false } } }))
    expect((await get()).status).toBe(200)
    const warning = gw.logs.find((l) => l.msg === 'pool tls.rejectUnauthorized is false: backend certificates are not verified')
    expect(warning).toMatchObject({ level: 40, pool: 'main' })
  })
})
