import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { createPki, type TestPki } from './helpers/pki.js'
import { handshake, httpsRequest } from './helpers/clients.js'

let pki: TestPki
let up: TestUpstream
let gw: StartedGateway
let tlsPort: number

beforeAll(async () => {
  pki = await createPki()
  const [def, api, wild] = await Promise.all([
    pki.issue('default', { subject: '/CN=default.test', dns: ['default.test'] }),
    pki.issue('api', { subject: '/CN=api.example.com', dns: ['api.example.com'] }),
    pki.issue('wild', { subject: '/CN=wildcard.example.com', dns: ['*.example.com'] }),
  ])
  up = await startUpstream('a')
  gw = await startGateway(
    simpleConfig([up.url], {
      top: {
        server: {
          tls: {
            port: 0,
            certificates: [
              { cert: def.cert, key: def.key },
              { cert: api.cert, key: api.key, serverNames: ['api.example.com'] },
              { cert: wild.cert, key: wild.key, serverNames: ['*.example.com'] },
            ],
          },
        },
      },
    }),
  )
  tlsPort = Number(new URL(gw.httpsUrl!).port)
})

afterAll(async () => {
  await gw?.close()
  await up?.close()
  await pki?.cleanup()
})

async function cnFor(servername: string | undefined): Promise<string | undefined> {
  const h = await handshake(tlsPort, servername === undefined ? {} : { servername })
  return h.cert.subject?.CN as string | undefined
}

describe('SNI certificate selection', () => {
  it('serves the certificate whose serverNames list the exact name', async () => {
    expect(await cnFor('api.example.com')).toBe('api.example.com')
  })

  it('matches server names case-insensitively and ignores a trailing root dot', async () => {
    expect(await cnFor('API.Example.COM')).toBe('api.example.com')
    expect(await cnFor('api.example.com.')).toBe('api.example.com')
  })

  it('serves the wildcard certificate for one extra label, preferring an exact name', async () => {
    expect(await cnFor('www.example.com')).toBe('wildcard.example.com')
    expect(await cnFor('api.example.com')).toBe('api.example.com')
  })

  it('never stretches a wildcard over zero or two labels: the default serves them', async () => {
    expect(await cnFor('example.com')).toBe('default.test')
    expect(await cnFor('a.b.example.com')).toBe('default.test')
  })

  it('serves the first certificate for unknown names and for clients without SNI', async () => {
    expect(await cnFor('unknown.test')).toBe('default.test')
    expect(await cnFor(undefined)).toBe('default.test')
  })

  it('completes a verified HTTPS request with the SNI-selected certificate', async () => {
    const res = await httpsRequest(tlsPort, '/hello?x=1', { servername: 'api.example.com', ca: pki.ca.pem, headers: { host: 'api.example.com' } })
    expect(res.status).toBe(200)
    const echoed = JSON.parse(res.body) as { url: string; headers: Record<string, string> }
    expect(echoed.url).toBe('/hello?x=1')
    expect(echoed.headers['x-forwarded-proto']).toBe('https')
    expect(echoed.headers['x-forwarded-host']).toBe('api.example.com')
  })
})
