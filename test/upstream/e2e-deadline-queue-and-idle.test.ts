/**
 * Deadlines and bounded waits over real sockets:
 * - timeouts.total: backends that never answer get 504 at the route deadline, not after the
 *   (much longer) response timeout;
 * - maxPending: a backend whose connections are all busy and whose queue is full is skipped at
 *   once for another backend, and with none left the answer is an instant 503;
 * - queueTimeout: a request waiting for a connection longer than that tries another backend;
 * - timeouts.idle: a keep-alive connection idle past it is closed by the gateway before the
 *   backend closes it, so a POST after an idle spell does not meet a dead socket.
 */
import { afterEach, describe, expect, it } from 'vitest'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import type { ServerResponse } from 'node:http'
import { request } from 'undici'
import { MAX_CONNECTIONS_PER_ORIGIN } from '../../src/proxy/transports/undici-http1.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
let hanging: ServerResponse[] = []
let closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const r of hanging) r.destroy()
  hanging = []
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  await Promise.all(closers.map((c) => c()))
  ups = []
  closers = []
  gw = undefined
})

describe('timeouts.total', () => {
  it('answers 504 at the route deadline when no backend answers, whatever the response timeout', async () => {
    const hang = (_req: unknown, res: ServerResponse) => void hanging.push(res)
    ups = [await startUpstream('a', hang), await startUpstream('b', hang)]
    gw = await startGateway(simpleConfig(ups.map((u) => u.url), { pool: { timeouts: { response: '60s', total: '300ms' }, retry: { attempts: 1, on: ['timeout'] } } }))
    const res = await request(`${gw.url}/x`)
    expect(res.statusCode).toBe(504)
    expect(await res.body.json()).toMatchObject({ statusCode: 504, error: 'Gateway Timeout' })
  }, 5000)
})

describe('timeouts.total while queued', () => {
  it('covers the wait for a connection: a request queued behind busy connections gets 504 at the deadline', async () => {
    let released = false
    const u = await startUpstream('a', (req, res) => {
      if (req.url === '/hang' && !released) return void hanging.push(res)
      res.writeHead(200).end('ok')
    })
    ups = [u]
    gw = await startGateway(simpleConfig([u.url], { pool: { queueTimeout: '60s', timeouts: { response: '60s', total: '60s' }, retry: { attempts: 0 } } }))
    const pending = Array.from({ length: MAX_CONNECTIONS_PER_ORIGIN }, () => request(`${gw!.url}/hang`).catch(() => undefined))
    await waitFor(() => hanging.length === MAX_CONNECTIONS_PER_ORIGIN, 10_000, 20, 'all connections busy')
    expect((await gw.reload(simpleConfig([u.url], { pool: { queueTimeout: '60s', timeouts: { response: '60s', total: '300ms' }, retry: { attempts: 0 } } }))).ok).toBe(true)
    const queued = await request(`${gw.url}/queued`)
    expect(queued.statusCode).toBe(504)
    await queued.body.dump()
    // Given up while still queued: it never reached the backend.
    released = true
    for (const r of hanging) r.destroy()
    await Promise.all(pending)
    await new Promise((r) => setTimeout(r, 100))
    expect(u.requests.filter((r) => r.url === '/queued')).toHaveLength(0)
  }, 20_000)
})

describe('maxPending', () => {
  it('skips a backend whose queue is full for another, and answers 503 at once with none left', async () => {
    // Every /hang request on x waits; /ping answers.
    const mk = (name: string) =>
      startUpstream(name, (req, res) => {
        if (req.url === '/hang') return void hanging.push(res)
        res.writeHead(200, { 'x-upstream': name }).end(name)
      })
    ups = [await mk('a'), await mk('b')]
    gw = await startGateway(
      simpleConfig(
        ups.map((u) => u.url),
        { pool: { algorithm: 'consistent-hash', hashOn: 'header:x-key', maxPending: 0, retry: { attempts: 0 } }, top: { admin: {} } },
      ),
    )
    const home = String((await request(`${gw.url}/ping`, { headers: { 'x-key': 'k1' } }).then(async (r) => (await r.body.dump(), r.headers['x-upstream']))))
    const busy = ups.find((u) => u.name === home)!
    const other = ups.find((u) => u.name !== home)!
    // Fill every connection to k1's backend.
    const pending = Array.from({ length: MAX_CONNECTIONS_PER_ORIGIN }, () => request(`${gw!.url}/hang`, { headers: { 'x-key': 'k1' } }).catch(() => undefined))
    await waitFor(() => hanging.length === MAX_CONNECTIONS_PER_ORIGIN, 10_000, 20, 'all connections busy')
    expect(busy.requests.filter((r) => r.url === '/hang')).toHaveLength(MAX_CONNECTIONS_PER_ORIGIN)

    const overflow = await request(`${gw.url}/ping`, { headers: { 'x-key': 'k1' } })
    expect(overflow.statusCode).toBe(200)
    expect(overflow.headers['x-upstream']).toBe(other.name)
    await overflow.body.dump()

    const put = await request(`${gw.adminUrl}/api/pools/main/backends/${encodeURIComponent(other.url)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ state: 'disabled' }),
    })
    expect(put.statusCode).toBe(200)
    await put.body.dump()
    const refused = await request(`${gw.url}/ping`, { headers: { 'x-key': 'k1' } })
    expect(refused.statusCode).toBe(503)
    expect(await refused.body.json()).toMatchObject({ statusCode: 503 })
    expect(busy.requests.filter((r) => r.url === '/ping')).toHaveLength(1)
    const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text()
    expect(metrics).toMatch(/switchyard_upstream_errors_total\{pool="main",kind="overflow"\} [1-9]/)
    for (const r of hanging) r.destroy()
    await Promise.all(pending)
  }, 20_000)
})

describe('queueTimeout', () => {
  it('gives up waiting for a connection after queueTimeout and tries another backend', async () => {
    let released = false
    const mk = (name: string) =>
      startUpstream(name, (req, res) => {
        if (req.url === '/hang' && !released) return void hanging.push(res)
        res.writeHead(200, { 'x-upstream': name }).end(name)
      })
    ups = [await mk('a'), await mk('b')]
    gw = await startGateway(
      simpleConfig(
        ups.map((u) => u.url),
        { pool: { algorithm: 'consistent-hash', hashOn: 'header:x-key', maxPending: 10, queueTimeout: '200ms', timeouts: { response: '30s' }, retry: { attempts: 1 } } },
      ),
    )
    const home = String((await request(`${gw.url}/ping`, { headers: { 'x-key': 'k1' } }).then(async (r) => (await r.body.dump(), r.headers['x-upstream']))))
    const busy = ups.find((u) => u.name === home)!
    const other = ups.find((u) => u.name !== home)!
    const pending = Array.from({ length: MAX_CONNECTIONS_PER_ORIGIN }, () => request(`${gw!.url}/hang`, { headers: { 'x-key': 'k1' } }).catch(() => undefined))
    await waitFor(() => hanging.length === MAX_CONNECTIONS_PER_ORIGIN, 10_000, 20, 'all connections busy')

    // Queued behind 128 busy connections; after queueTimeout the other backend answers.
    const queued = await request(`${gw.url}/ping`, { headers: { 'x-key': 'k1' } })
    expect(queued.statusCode).toBe(200)
    expect(queued.headers['x-upstream']).toBe(other.name)
    await queued.body.dump()
    expect(busy.requests.filter((r) => r.url === '/ping')).toHaveLength(1)
    // Released: the hung requests' retries are answered.
    released = true
    for (const r of hanging) r.destroy()
    await Promise.all(pending)
  }, 20_000)
})

/**
 * A backend that, like one whose keep-alive timeout fires just as a request arrives, drops a
 * connection that was idle for more than `idleMs` when the next request comes in on it.
 */
async function racingBackend(idleMs: number): Promise<{ url: string; served: string[] }> {
  const served: string[] = []
  const server = net.createServer((sock) => {
    sock.on('error', () => {})
    let last = Date.now()
    let buf = ''
    sock.on('data', (d) => {
      if (Date.now() - last > idleMs) return void sock.destroy()
      buf += d.toString('latin1')
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) return
      const head = buf.slice(0, end)
      const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0)
      if (buf.length < end + 4 + len) return
      served.push(head.split(' ')[0]!)
      buf = ''
      sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
      last = Date.now()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  closers.push(() => new Promise<void>((r) => server.close(() => r())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, served }
}

describe('timeouts.idle', () => {
  it('closes idle keep-alive connections before the backend does: a POST after an idle spell gets through', async () => {
    const backend = await racingBackend(250)
    gw = await startGateway(simpleConfig([backend.url], { pool: { timeouts: { idle: '100ms' }, circuitBreaker: { consecutiveFailures: 100 } } }))
    const warm = await request(`${gw.url}/x`)
    expect(warm.statusCode).toBe(200)
    await warm.body.dump()
    await new Promise((r) => setTimeout(r, 400))
    const post = await request(`${gw.url}/x`, { method: 'POST', body: 'once' })
    expect(post.statusCode).toBe(200)
    await post.body.dump()
    expect(backend.served).toEqual(['GET', 'POST'])
  })
})
