/**
 * TCP streams over real sockets: balancing per connection, connect retries and the breaker,
 * half-close, limits, PROXY protocol both ways, reload and the operations surface.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream } from '../helpers/upstream.js'
import { parseProxyHeader, proxyV2 } from '../../src/streams/proxy-protocol.js'
import { connectClient, deadPort, greeting, streamPort, tcpBackend, until, type TcpBackend } from './helpers.js'

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

async function backends(...names: string[]): Promise<TcpBackend[]> {
  const out = await Promise.all(names.map((n) => tcpBackend(n)))
  for (const b of out) cleanup.push(() => b.close())
  return out
}

async function gateway(config: Record<string, unknown>): Promise<StartedGateway> {
  // A failed test may leave a client open: closing must not wait the default 30 s for it.
  const gw = await startGateway({ ...config, server: { shutdownTimeout: '500ms', ...(config['server'] as object | undefined) } })
  cleanup.push(() => gw.close())
  return gw
}

function streamLines(gw: StartedGateway): Record<string, unknown>[] {
  return gw.logs.filter((l) => l['type'] === 'stream')
}

describe('tcp streams', () => {
  test('round robin over connections', async () => {
    const [a, b] = await backends('a', 'b')
    const gw = await gateway({ pools: { p: { backends: [a!.url, b!.url] } }, streams: [{ name: 's', listen: { port: 0 }, pool: 'p' }] })
    const port = streamPort(gw, 's')
    expect(gw.logs.find((l) => l['msg'] === 'switchyard listening')?.['streams']).toEqual([`s tcp://127.0.0.1:${port}`])
    const seen: string[] = []
    for (let i = 0; i < 4; i++) seen.push(await greeting(port))
    expect(seen.filter((x) => x === 'a')).toHaveLength(2)
    expect(seen.filter((x) => x === 'b')).toHaveLength(2)
    expect(seen[0]).not.toBe(seen[1])
    expect(seen[1]).not.toBe(seen[2])
  })

  test('a dead backend is skipped on connect, and its failures open its breaker', async () => {
    const [a] = await backends('a')
    const dead = `tcp://127.0.0.1:${await deadPort()}`
    const gw = await gateway({
      pools: { p: { backends: [dead, a!.url], circuitBreaker: { consecutiveFailures: 2, openDuration: '1m' } } },
      streams: [{ name: 's', listen: { port: 0 }, pool: 'p' }],
    })
    const port = streamPort(gw, 's')
    for (let i = 0; i < 6; i++) expect(await greeting(port)).toBe('a')
    const pools = (await (await fetch(`${gw.adminUrl}/api/pools`)).json()) as { backends: { url: string; circuit: string }[] }[]
    expect(pools[0]!.backends.find((x) => x.url === dead)?.circuit).toBe('open')
    // Once open, the dead backend is not tried any more: one attempt per connection.
    const lines = await until(
      () => streamLines(gw),
      (l) => l.length === 6,
    )
    expect(lines.slice(-2).map((l) => l['attempts'])).toEqual([1, 1])
    expect(lines.some((l) => l['attempts'] === 2)).toBe(true)
  })

  test('open connections feed least-connections', async () => {
    const [a, b] = await backends('a', 'b')
    const gw = await gateway({ pools: { p: { backends: [a!.url, b!.url], algorithm: 'least-connections' } }, streams: [{ name: 's', listen: { port: 0 }, pool: 'p' }] })
    const port = streamPort(gw, 's')
    const first = await connectClient(port)
    const x = (await first.waitFor((t) => t.endsWith('\n'))).trim()
    const second = await connectClient(port)
    const y = (await second.waitFor((t) => t.endsWith('\n'))).trim()
    expect(y).not.toBe(x)
    const oneOpen = (): Promise<unknown> =>
      until(
        async () => ((await (await fetch(`${gw.adminUrl}/api/streams`)).json()) as { active: number }[])[0]!.active,
        (n) => n === 1,
      )
    first.socket.end()
    await first.closed
    await oneOpen()
    // x holds nothing now, y one connection: x again, twice in a row while y's stays open.
    expect(await greeting(port)).toBe(x)
    await oneOpen()
    expect(await greeting(port)).toBe(x)
    second.socket.destroy()
  })

  test('a pool with nothing that connects hands over to its fallback pool', async () => {
    const [b] = await backends('b')
    const gw = await gateway({
      pools: { p: { backends: [`tcp://127.0.0.1:${await deadPort()}`], fallback: 'q' }, q: { backends: [b!.url] } },
      streams: [{ name: 's', listen: { port: 0 }, pool: 'p' }],
    })
    expect(await greeting(streamPort(gw, 's'))).toBe('b')
    const [line] = await until(
      () => streamLines(gw),
      (l) => l.length === 1,
    )
    expect(line).toMatchObject({ pool: 'q', attempts: 2 })
  })

  test('last resort: a backend whose breaker is open is still tried when nothing else is available', async () => {
    const port = await deadPort()
    const gw = await gateway({
      pools: { p: { backends: [`tcp://127.0.0.1:${port}`], circuitBreaker: { consecutiveFailures: 1, openDuration: '1m' } } },
      streams: [{ name: 's', listen: { port: 0 }, pool: 'p' }],
    })
    const first = await connectClient(streamPort(gw, 's'))
    await first.closed
    const circuit = async (): Promise<string> => ((await (await fetch(`${gw.adminUrl}/api/pools`)).json()) as { backends: { circuit: string }[] }[])[0]!.backends[0]!.circuit
    expect(await circuit()).toBe('open')
    // The backend comes back on its port: the open breaker alone must not keep it out.
    const back = net.createServer((s) => s.end('back\n'))
    await new Promise<void>((r) => back.listen(port, '127.0.0.1', r))
    cleanup.push(() => new Promise((r) => back.close(r)))
    expect(await greeting(streamPort(gw, 's'))).toBe('back')
    expect(await circuit()).toBe('closed')
  })

  test('no backend answers: the client is closed and the line says why', async () => {
    const gw = await gateway({
      pools: { p: { backends: [`tcp://127.0.0.1:${await deadPort()}`] } },
      streams: [{ name: 's', listen: { port: 0 }, pool: 'p' }],
    })
    const c = await connectClient(streamPort(gw, 's'))
    await c.closed
    expect(c.text()).toBe('')
    const [line] = await until(
      () => streamLines(gw),
      (l) => l.length === 1,
    )
    expect(line).toMatchObject({ stream: 's', reason: 'connect-failed', bytesIn: 0, bytesOut: 0 })
  })

  test('half-close: the client FIN reaches the backend and its answer still comes back', async () => {
    const [a] = await backends('a')
    const gw = await gateway({ pools: { p: { backends: [a!.url] } }, streams: [{ name: 's', listen: { port: 0 }, pool: 'p' }] })
    const c = await connectClient(streamPort(gw, 's'))
    c.socket.end('hello')
    await c.closed
    expect(c.text()).toBe('a\nhellobye')
    const [line] = await until(
      () => streamLines(gw),
      (l) => l.length === 1,
    )
    expect(line).toMatchObject({ stream: 's', pool: 'p', backend: a!.url, client: '127.0.0.1', bytesIn: 5, bytesOut: 10, reason: 'client-closed' })
  })

  test('stream lines go to log.access.file with the request lines', async () => {
    const [a] = await backends('a')
    const dir = await mkdtemp(join(tmpdir(), 'sy-stream-log-'))
    cleanup.push(() => rm(dir, { recursive: true, force: true }))
    const file = join(dir, 'access.log')
    const gw = await startGateway({ log: { access: { file } }, pools: { p: { backends: [a!.url] } }, streams: [{ name: 's', listen: { port: 0 }, pool: 'p' }] })
    const c = await connectClient(streamPort(gw, 's'))
    c.socket.end('x')
    await c.closed
    await until(
      () => gw.streams.snapshot()[0]!.active,
      (n) => n === 0,
    )
    await gw.close() // flushes the buffered file
    const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines).toEqual([expect.objectContaining({ level: 30, type: 'stream', msg: 'stream', stream: 's', pool: 'p', bytesIn: 1, bytesOut: 6, reason: 'client-closed' })])
    expect(streamLines(gw)).toEqual([])
  })

  test('idle timeout and maxConnections', async () => {
    const [a] = await backends('a')
    const gw = await gateway({
      pools: { p: { backends: [a!.url] } },
      streams: [{ name: 's', listen: { port: 0 }, pool: 'p', idleTimeout: '1s', maxConnections: 1 }],
    })
    const port = streamPort(gw, 's')
    const first = await connectClient(port)
    await first.waitFor((t) => t === 'a\n')
    const second = await connectClient(port)
    await second.closed
    expect(second.text()).toBe('')
    await first.closed
    const lines = await until(
      () => streamLines(gw),
      (l) => l.length === 1,
    )
    expect(lines[0]).toMatchObject({ reason: 'idle-timeout' })
    const [snap] = (await (await fetch(`${gw.adminUrl}/api/streams`)).json()) as { refused: number; accepted: number; active: number }[]
    expect(snap).toMatchObject({ refused: 1, accepted: 1, active: 0 })
  })

  test('PROXY v1 and v2 headers carry the client address to the backend', async () => {
    const [a, b] = await backends('a', 'b')
    const gw = await gateway({
      pools: { pa: { backends: [a!.url] }, pb: { backends: [b!.url] } },
      streams: [
        { name: 'v1', listen: { port: 0 }, pool: 'pa', proxyProtocol: 'v1' },
        { name: 'v2', listen: { port: 0 }, pool: 'pb', proxyProtocol: 'v2' },
      ],
    })
    const c1 = await connectClient(streamPort(gw, 'v1'))
    c1.socket.write('x')
    await c1.waitFor((t) => t.endsWith('x'))
    expect(a!.received[0]!.toString('latin1')).toBe(`PROXY TCP4 127.0.0.1 127.0.0.1 ${c1.socket.localPort} ${streamPort(gw, 'v1')}\r\nx`)
    c1.socket.destroy()

    const c2 = await connectClient(streamPort(gw, 'v2'))
    c2.socket.write('y')
    await c2.waitFor((t) => t.endsWith('y'))
    const got = b!.received[0]!
    const h = parseProxyHeader(got)
    expect(h).toEqual({ status: 'ok', length: 28, source: { address: '127.0.0.1', port: c2.socket.localPort } })
    expect(got.subarray(28).toString()).toBe('y')
    c2.socket.destroy()
  })

  test('a PROXY header from a trusted outer balancer gives the real client; from anyone else it is data', async () => {
    const [a] = await backends('a')
    const config = {
      pools: { p: { backends: [a!.url], algorithm: 'ip-hash' } },
      streams: [{ name: 's', listen: { port: 0 }, pool: 'p', proxyProtocol: 'v1' }],
    }
    const gw = await gateway({ ...config, server: { trustedProxies: ['127.0.0.1'] } })
    const outer = proxyV2({ sourceAddress: '203.0.113.7', sourcePort: 5555, destAddress: '198.51.100.1', destPort: 5432 })
    const c = await connectClient(streamPort(gw, 's'))
    c.socket.write(Buffer.concat([outer, Buffer.from('hi')]))
    await c.waitFor((t) => t.endsWith('hi'))
    expect(a!.received[0]!.toString('latin1')).toMatch(/^PROXY TCP4 203\.0\.113\.7 127\.0\.0\.1 5555 \d+\r\nhi$/)
    c.socket.end()
    await c.closed
    const [line] = await until(
      () => streamLines(gw),
      (l) => l.length === 1,
    )
    expect(line).toMatchObject({ client: '203.0.113.7', clientPort: 5555 })

    // Not trusted: the bytes are the client's own, passed on untouched after our header.
    const plain = await gateway(config)
    const d = await connectClient(streamPort(plain, 's'))
    d.socket.write(Buffer.concat([outer, Buffer.from('hi')]))
    await d.waitFor((t) => t.endsWith('hi'))
    const got = a!.received[1]!
    expect(got.toString('latin1')).toMatch(/^PROXY TCP4 127\.0\.0\.1 /)
    expect(got.subarray(got.indexOf('\r\n') + 2).equals(Buffer.concat([outer, Buffer.from('hi')]))).toBe(true)
    d.socket.destroy()
  })

  test('a reload keeps an established connection while new ones follow the new pool; a removed listener closes after its last connection', async () => {
    const [a, b] = await backends('a', 'b')
    const base = { server: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } }
    const gw = await gateway({ pools: { p1: { backends: [a!.url] } }, streams: [{ name: 's', listen: { port: 0 }, pool: 'p1' }] })
    const port = streamPort(gw, 's')
    const old = await connectClient(port)
    await old.waitFor((t) => t === 'a\n')

    const r1 = await gw.reload({ ...base, pools: { p2: { backends: [b!.url] } }, streams: [{ name: 's', listen: { port: 0 }, pool: 'p2' }] })
    expect(r1).toMatchObject({ ok: true })
    expect(streamPort(gw, 's')).toBe(port)
    expect(await greeting(port)).toBe('b')
    old.socket.write('still here')
    await old.waitFor((t) => t === 'a\nstill here')

    const r2 = await gw.reload({ ...base, pools: { p2: { backends: [b!.url] } } })
    expect(r2).toMatchObject({ ok: true })
    await expect(connectClient(port)).rejects.toThrow(/ECONNREFUSED/)
    const snap = (await (await fetch(`${gw.adminUrl}/api/streams`)).json()) as { name: string; configured: boolean; active: number }[]
    expect(snap).toEqual([expect.objectContaining({ name: 's', configured: false, active: 1 })])
    old.socket.write('!')
    await old.waitFor((t) => t === 'a\nstill here!')
    old.socket.end()
    await old.closed
    await until(
      async () => (await (await fetch(`${gw.adminUrl}/api/streams`)).json()) as unknown[],
      (s) => s.length === 0,
    )
  })

  test('a reload whose new listener cannot bind is rejected and the old one keeps serving', async () => {
    const [a] = await backends('a')
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    cleanup.push(() => new Promise((r) => blocker.close(r)))
    const taken = (blocker.address() as net.AddressInfo).port
    const base = { server: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, pools: { p: { backends: [a!.url] } } }
    const gw = await gateway({ pools: base.pools, streams: [{ name: 's', listen: { port: 0 }, pool: 'p' }] })
    const result = await gw.reload({ ...base, streams: [{ name: 't', listen: { host: '127.0.0.1', port: taken }, pool: 'p' }] })
    expect(result.ok).toBe(false)
    expect(!result.ok && result.problems.join('\n')).toMatch(/^streams\[0\]\.listen\.port: cannot listen on 127\.0\.0\.1:\d+ \(stream t\): address already in use/)
    expect(await greeting(streamPort(gw, 's'))).toBe('a')
  })

  test('shutdown drains: no new connections, open ones get until shutdownTimeout', async () => {
    const [a] = await backends('a')
    const gw = await startGateway({
      server: { shutdownTimeout: '1500ms' },
      pools: { p: { backends: [a!.url] } },
      streams: [{ name: 's', listen: { port: 0 }, pool: 'p' }],
    })
    const port = streamPort(gw, 's')
    const open = await connectClient(port)
    await open.waitFor((t) => t === 'a\n')
    const closing = gw.close()
    await until(
      () => connectClient(port).then(
        (c) => (c.socket.destroy(), false),
        () => true,
      ),
      (refused) => refused,
    )
    // Still spliced while draining.
    open.socket.write('late')
    await open.waitFor((t) => t === 'a\nlate')
    await closing
    await open.closed
    expect(gw.logs.filter((l) => l['type'] === 'stream').map((l) => l['reason'])).toContain('shutdown')
  })

  test('health checks of type http on a layer-4 pool speak HTTP to the backend address', async () => {
    const ok = await startUpstream('ok')
    const sick = await startUpstream('sick', (_req, res) => {
      res.statusCode = 500
      res.end()
    })
    cleanup.push(() => ok.close(), () => sick.close())
    const okUrl = ok.url.replace('http://', 'tcp://')
    const sickUrl = sick.url.replace('http://', 'tcp://')
    const gw = await gateway({
      pools: { p: { backends: [okUrl, sickUrl], healthCheck: { type: 'http', path: '/health', interval: '50ms', unhealthyThreshold: 1 } } },
      streams: [{ name: 's', listen: { port: 0 }, pool: 'p' }],
    })
    const health = await until(
      async () => ((await (await fetch(`${gw.adminUrl}/api/pools`)).json()) as { backends: { url: string; healthy: boolean }[] }[])[0]!.backends,
      (b) => b.find((x) => x.url === sickUrl)?.healthy === false,
    )
    expect(health.find((x) => x.url === okUrl)?.healthy).toBe(true)
    expect(ok.requests.some((r) => r.url === '/health')).toBe(true)
  })

  test('GET /api/streams, metrics and health checks of type tcp', async () => {
    const [a] = await backends('a')
    const dead = `tcp://127.0.0.1:${await deadPort()}`
    const gw = await gateway({
      pools: { p: { backends: [a!.url, dead], healthCheck: { interval: '50ms', unhealthyThreshold: 1 } } },
      streams: [{ name: 's', listen: { port: 0 }, pool: 'p' }],
    })
    await until(
      async () => (await (await fetch(`${gw.adminUrl}/api/pools`)).json()) as { backends: { url: string; healthy: boolean }[] }[],
      (p) => p[0]!.backends.find((x) => x.url === dead)?.healthy === false && p[0]!.backends.find((x) => x.url === a!.url)?.healthy === true,
    )
    const c = await connectClient(streamPort(gw, 's'))
    c.socket.write('12345')
    await c.waitFor((t) => t === 'a\n12345')
    const live = (await (await fetch(`${gw.adminUrl}/api/streams`)).json()) as Record<string, unknown>[]
    expect(live).toEqual([
      expect.objectContaining({ name: 's', protocol: 'tcp', pool: 'p', active: 1, pools: { p: 1 }, bytesIn: 5, bytesOut: 7, configured: true }),
    ])
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text()
    expect(metrics).toContain('switchyard_stream_connections_total{stream="s",pool="p"} 1')
    expect(metrics).toContain('switchyard_stream_bytes_total{stream="s",direction="in"} 5')
    expect(metrics).toContain('switchyard_stream_bytes_total{stream="s",direction="out"} 7')
    c.socket.end()
    await c.closed
    await until(
      () => streamLines(gw),
      (l) => l.length === 1,
    )
    const after = await (await fetch(`${gw.adminUrl}/metrics`)).text()
    expect(after).toContain('switchyard_stream_bytes_total{stream="s",direction="in"} 5')
    expect(after).toContain('switchyard_stream_bytes_total{stream="s",direction="out"} 10')
  })
})
