import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { X509Certificate } from 'node:crypto'
import { request } from 'undici'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { escapeDnValue, formatSubject } from '../../src/tls/client-cert.js'
import { createPki, type Ca, type IssuedFiles, type TestPki } from './helpers/pki.js'
import { h2Request, httpsRequest, type RequestOptions } from './helpers/clients.js'

let pki: TestPki
let clientCa: Ca
let server: IssuedFiles
let client: { cert: string; key: string; fingerprint: string }
let rogue: { cert: string; key: string }
let up: TestUpstream
let required: StartedGateway
let optional: StartedGateway

const FORGED = { 'x-client-cert-subject': 'CN=admin', 'x-client-cert-fingerprint': 'AA:BB' }

beforeAll(async () => {
  pki = await createPki()
  clientCa = await pki.newCa('client-ca', '/CN=Switchyard Test Client CA')
  const rogueCa = await pki.newCa('rogue-ca', '/CN=Rogue CA')
  const [s, c, r] = await Promise.all([
    pki.issue('server', { subject: '/CN=gw.test', dns: ['gw.test'], ips: ['127.0.0.1'] }),
    pki.issue('client', { subject: '/O=Acme, Inc./CN=client-1', client: true, ca: clientCa }),
    pki.issue('rogue', { subject: '/CN=client-1', client: true, ca: rogueCa }),
  ])
  server = s
  const clientPem = await pki.read(c.cert)
  client = { cert: clientPem, key: await pki.read(c.key), fingerprint: new X509Certificate(clientPem).fingerprint256 }
  rogue = { cert: await pki.read(r.cert), key: await pki.read(r.key) }
  up = await startUpstream('a')
  const config = (requireClientCert: boolean) =>
    simpleConfig([up.url], {
      top: { server: { tls: { port: 0, clientCa: clientCa.cert, requireClientCert, certificates: [{ cert: server.cert, key: server.key }] } } },
    })
  required = await startGateway(config(true))
  optional = await startGateway(config(false))
})

afterAll(async () => {
  await required?.close()
  await optional?.close()
  await up?.close()
  await pki?.cleanup()
})

const port = (gw: StartedGateway) => Number(new URL(gw.httpsUrl!).port)
const seenHeaders = (body: string) => (JSON.parse(body) as { headers: Record<string, string | undefined> }).headers

function call(gw: StartedGateway, opts: RequestOptions = {}) {
  return httpsRequest(port(gw), '/who', { ca: pki.ca.pem, servername: 'gw.test', ...opts, headers: { ...FORGED, ...opts.headers } })
}

describe('client certificates (mutual TLS)', () => {
  it('refuses a client without a certificate when requireClientCert is on', async () => {
    await expect(call(required)).rejects.toThrow(/certificate required/)
  })

  it('refuses a certificate from a CA other than clientCa', async () => {
    // Node verifies after the handshake and closes the connection before any request is read.
    await expect(call(required, rogue)).rejects.toThrow(/socket hang up|ECONNRESET/)
  })

  it('forwards the verified subject and fingerprint, replacing the client-sent copies (HTTP/1.1 and HTTP/2)', async () => {
    const res = await call(required, client)
    expect(res.status).toBe(200)
    const h = seenHeaders(res.body)
    expect(h['x-client-cert-subject']).toBe('CN=client-1,O=Acme\\, Inc.')
    expect(h['x-client-cert-fingerprint']).toBe(client.fingerprint)

    const h2 = await h2Request(port(required), '/who', { ca: pki.ca.pem, servername: 'gw.test', ...client, headers: FORGED })
    expect(h2.alpn).toBe('h2')
    expect(seenHeaders(h2.body)['x-client-cert-subject']).toBe('CN=client-1,O=Acme\\, Inc.')
    expect(seenHeaders(h2.body)['x-client-cert-fingerprint']).toBe(client.fingerprint)
  })

  it('with an optional client certificate: serves everyone, forwards only verified subjects, drops forgeries', async () => {
    const none = await call(optional)
    expect(none.status).toBe(200)
    expect(seenHeaders(none.body)['x-client-cert-subject']).toBeUndefined()
    expect(seenHeaders(none.body)['x-client-cert-fingerprint']).toBeUndefined()

    const untrusted = await call(optional, rogue)
    expect(untrusted.status).toBe(200)
    expect(seenHeaders(untrusted.body)['x-client-cert-subject']).toBeUndefined()

    const verified = await call(optional, client)
    expect(seenHeaders(verified.body)['x-client-cert-subject']).toBe('CN=client-1,O=Acme\\, Inc.')
  })

  it('drops client-sent certificate headers on the plain listener too', async () => {
    const res = await request(`${optional.url}/who`, { headers: FORGED })
    const h = seenHeaders(await res.body.text())
    expect(h['x-client-cert-subject']).toBeUndefined()
    expect(h['x-client-cert-fingerprint']).toBeUndefined()
  })

  it('applies a reloaded requireClientCert to new handshakes', async () => {
    const gw = await startGateway(
      simpleConfig([up.url], { top: { server: { tls: { port: 0, clientCa: clientCa.cert, certificates: [{ cert: server.cert, key: server.key }] } } } }),
    )
    try {
      expect((await call(gw)).status).toBe(200)
      const stricter = simpleConfig([up.url], {
        top: { server: { host: '127.0.0.1', port: 0, tls: { port: 0, clientCa: clientCa.cert, requireClientCert: true, certificates: [{ cert: server.cert, key: server.key }] } } },
      })
      expect((await gw.reload({ ...stricter, admin: { host: '127.0.0.1', port: 0 } })).ok).toBe(true)
      await expect(call(gw)).rejects.toThrow(/certificate required/)
      expect((await call(gw, client)).status).toBe(200)
    } finally {
      await gw.close()
    }
  })

  it('writes subjects as RFC 4514 strings that are always valid header values', () => {
    expect(formatSubject({ C: 'DE', O: 'Acme', CN: 'svc' } as never)).toBe('CN=svc,O=Acme,C=DE')
    expect(formatSubject({ OU: ['a', 'b'], CN: 'x' } as never)).toBe('CN=x,OU=b,OU=a')
    expect(escapeDnValue('a,b+c;d<e>f"g\\h')).toBe('a\\,b\\+c\\;d\\<e\\>f\\"g\\\\h')
    expect(escapeDnValue('#lead and trail ')).toBe('\\#lead and trail\\ ')
    expect(escapeDnValue('line\r\nbreak')).toBe('line\\0D\\0Abreak')
    expect(escapeDnValue('Zürich')).toBe('Z\\C3\\BCrich')
  })
})
