import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import http2 from 'node:http2'
import https from 'node:https'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { createPki, type IssuedFiles, type TestPki } from './helpers/pki.js'
import { h2Request } from './helpers/clients.js'

let pki: TestPki
let leaf: IssuedFiles
let up: TestUpstream | undefined
let gw: StartedGateway | undefined
const cleanups: (() => void)[] = []

beforeAll(async () => {
  pki = await createPki()
  leaf = await pki.issue('gw', { subject: '/CN=gw.test', dns: ['gw.test'], ips: ['127.0.0.1'] })
})
afterEach(async () => {
  await gw?.close()
  for (const c of cleanups.splice(0)) c()
  await up?.close()
  gw = undefined
  up = undefined
})
afterAll(async () => {
  await pki?.cleanup()
})

function config(server: Record<string, unknown> = {}) {
  return simpleConfig([up!.url], { top: { server: { ...server, tls: { port: 0, certificates: [{ cert: leaf.cert, key: leaf.key }] } } } })
}
const port = () => Number(new URL(gw!.httpsUrl!).port)

describe('closing the TLS listener', () => {
  it('does not wait for idle HTTP/2 sessions or idle HTTP/1.1 keep-alive connections', async () => {
    up = await startUpstream('a')
    gw = await startGateway(config())
    const session = http2.connect(gw.httpsUrl!, { ca: pki.ca.pem })
    session.on('error', () => {})
    cleanups.push(() => session.destroy())
    await new Promise<void>((resolve, reject) => {
      const s = session.request({ ':path': '/one' })
      s.resume()
      s.on('end', resolve)
      s.on('error', reject)
    })
    const agent = new https.Agent({ keepAlive: true, ca: pki.ca.pem })
    cleanups.push(() => agent.destroy())
    await new Promise<void>((resolve, reject) => {
      https.get(<https.RequestOptions>{ host: '127.0.0.1', port: port(), path: '/two', agent, ALPNProtocols: ['http/1.1'] }, (res) => res.resume().on('end', resolve)).on('error', reject)
    })
    const started = Date.now()
    await gw.close()
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('lets an in-flight HTTP/2 request finish', async () => {
    up = await startUpstream('slow', async (_req, res) => {
      await new Promise((r) => setTimeout(r, 300))
      res.end('finished')
    })
    gw = await startGateway(config())
    const pending = h2Request(port(), '/slow', { ca: pki.ca.pem })
    await waitFor(() => up!.requests.length === 1, 3000, 10, 'the request to reach the upstream')
    const closed = gw.close()
    const res = await pending
    expect(res.status).toBe(200)
    expect(res.body).toBe('finished')
    await closed
  })

  it('cuts a request still running at shutdownTimeout', async () => {
    up = await startUpstream('stuck', () => new Promise<void>(() => {}))
    gw = await startGateway(config({ shutdownTimeout: '300ms' }))
    const pending = h2Request(port(), '/stuck', { ca: pki.ca.pem }).then(
      (r) => r.status,
      () => 'failed',
    )
    await waitFor(() => up!.requests.length === 1, 3000, 10, 'the request to reach the upstream')
    const started = Date.now()
    await gw.close()
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(await pending).toBe('failed')
  })
})
