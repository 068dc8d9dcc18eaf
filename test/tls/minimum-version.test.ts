import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { createPki, type TestPki, type IssuedFiles } from './helpers/pki.js'
import { handshake } from './helpers/clients.js'

let pki: TestPki
let leaf: IssuedFiles
let up: TestUpstream
const gateways: StartedGateway[] = []

beforeAll(async () => {
  pki = await createPki()
  leaf = await pki.issue('gw', { subject: '/CN=gw.test', dns: ['gw.test'] })
  up = await startUpstream('a')
})

afterAll(async () => {
  for (const g of gateways) await g.close()
  await up?.close()
  await pki?.cleanup()
})

async function start(tls: Record<string, unknown> = {}): Promise<number> {
  const gw = await startGateway(simpleConfig([up.url], { top: { server: { tls: { port: 0, certificates: [{ cert: leaf.cert, key: leaf.key }], ...tls } } } }))
  gateways.push(gw)
  return Number(new URL(gw.httpsUrl!).port)
}

async function handshakeErrors(gw: StartedGateway, code: string): Promise<number> {
  const m = await gw.metrics.registry.getSingleMetric('switchyard_tls_handshake_errors_total')!.get()
  return m.values.find((v) => v.labels.code === code)?.value ?? 0
}

describe('minimum TLS version', () => {
  it('refuses TLS 1.1 by default and accepts TLS 1.2 and 1.3', async () => {
    const port = await start()
    const gw = gateways.at(-1)!
    // SECLEVEL=0 lets OpenSSL 3 actually offer TLS 1.1 (its default level refuses to), so the
    // refusal below is the gateway's and not the client library's; the server-side counter shows it.
    await expect(handshake(port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' })).rejects.toMatchObject({
      code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
    })
    await waitFor(async () => (await handshakeErrors(gw, 'ERR_SSL_UNSUPPORTED_PROTOCOL')) === 1, 2000, 20, 'the server to count the refused handshake')
    expect((await handshake(port, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2')
    expect((await handshake(port)).protocol).toBe('TLSv1.3')
  })

  it('refuses TLS 1.2 when minVersion is TLSv1.3', async () => {
    const port = await start({ minVersion: 'TLSv1.3' })
    await expect(handshake(port, { maxVersion: 'TLSv1.2' })).rejects.toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' })
    expect((await handshake(port)).protocol).toBe('TLSv1.3')
  })

  it('negotiates only forward-secret AEAD suites under TLS 1.2', async () => {
    const port = await start()
    // A client that offers only CBC and static-RSA suites finds nothing acceptable.
    await expect(handshake(port, { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA:AES256-SHA256' })).rejects.toThrow(/handshake failure/)
    const h = await handshake(port, { maxVersion: 'TLSv1.2' })
    expect(h.protocol).toBe('TLSv1.2')
  })
})
