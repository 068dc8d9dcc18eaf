/**
 * TLS passthrough by SNI: the gateway reads the ClientHello without terminating TLS, so each
 * client completes its handshake with the backend's own certificate (verified against the test
 * CA), routed by exact name, `*.` wildcard, or to the default pool.
 */
import net from 'node:net'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { createPki, type TestPki } from '../tls/helpers/pki.js'
import { connectClient, streamPort, until } from './helpers.js'

let pki: TestPki
let gw: StartedGateway
const servers: tls.Server[] = []

async function tlsBackend(name: string, dns: string[]): Promise<string> {
  const files = await pki.issue(name, { subject: `/CN=${name}`, dns })
  const server = tls.createServer({ cert: await pki.read(files.cert), key: await pki.read(files.key) }, (s) => {
    s.on('error', () => {})
    s.end(`hello from ${name}`)
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`
}

beforeAll(async () => {
  pki = await createPki()
  const a = await tlsBackend('a.example.com', ['a.example.com'])
  const b = await tlsBackend('b-wildcard', ['*.b.example.com'])
  const d = await tlsBackend('default.example.com', ['default.example.com'])
  gw = await startGateway({
    pools: { pa: { backends: [a] }, pb: { backends: [b] }, pd: { backends: [d] } },
    streams: [{ name: 'tls', listen: { port: 0 }, sni: { 'a.example.com': 'pa', '*.b.example.com': 'pb' }, pool: 'pd', clientHelloTimeout: '1s' }],
  })
})

afterAll(async () => {
  await gw?.close()
  for (const s of servers) await new Promise((r) => s.close(r))
  await pki?.cleanup()
})

/** A verified TLS client: the certificate it sees and what the backend said. */
function handshake(servername: string, verify = true): Promise<{ subject: string; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: streamPort(gw, 'tls'), servername, ca: pki.ca.pem, rejectUnauthorized: verify })
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => (text += d))
    socket.on('error', reject)
    socket.on('end', () => resolve({ subject: String(socket.getPeerCertificate().subject?.CN), text }))
  })
}

describe('TLS passthrough by SNI', () => {
  test('exact names, one-label wildcards and the default pool; the client verifies each backend\'s own certificate', async () => {
    expect(await handshake('a.example.com')).toEqual({ subject: 'a.example.com', text: 'hello from a.example.com' })
    expect(await handshake('x.b.example.com')).toEqual({ subject: 'b-wildcard', text: 'hello from b-wildcard' })
    // `*.b.example.com` covers one label only: these go to the default pool.
    expect((await handshake('b.example.com', false)).subject).toBe('default.example.com')
    expect((await handshake('y.x.b.example.com', false)).subject).toBe('default.example.com')
    expect(await handshake('default.example.com')).toEqual({ subject: 'default.example.com', text: 'hello from default.example.com' })
    const lines = await until(
      () => gw.logs.filter((l) => l['type'] === 'stream'),
      (l) => l.length >= 5,
    )
    expect(lines.find((l) => l['sni'] === 'a.example.com')).toMatchObject({ pool: 'pa', stream: 'tls' })
    expect(lines.find((l) => l['sni'] === 'x.b.example.com')).toMatchObject({ pool: 'pb' })
  })

  test('a client that sends no ClientHello in time, or something else, is closed', async () => {
    const silent = await connectClient(streamPort(gw, 'tls'))
    await silent.closed
    expect(silent.text()).toBe('')
    const http = await connectClient(streamPort(gw, 'tls'))
    http.socket.write('GET / HTTP/1.1\r\nhost: a.example.com\r\n\r\n')
    await http.closed
    expect(http.text()).toBe('')
    await until(
      () => gw.logs.filter((l) => l['type'] === 'stream').map((l) => l['reason']),
      (r) => r.includes('client-hello-timeout') && r.includes('bad-client-hello'),
    )
  })
})
