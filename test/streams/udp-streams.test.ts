/**
 * UDP streams over real sockets: a small DNS-like echo (question in, one answer back) through
 * the gateway, balanced per client address:port over two backends, with sessions that end
 * when idle and a bound on how many exist.
 */
import dgram from 'node:dgram'
import { afterEach, describe, expect, test } from 'vitest'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { streamPort, until } from './helpers.js'

const cleanup: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

/** Answers each datagram with `<name>:<question>` to whoever asked. */
async function udpBackend(name: string): Promise<string> {
  const s = dgram.createSocket('udp4')
  s.on('message', (msg, rinfo) => s.send(`${name}:${msg.toString()}`, rinfo.port, rinfo.address))
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve))
  cleanup.push(() => new Promise<void>((r) => s.close(() => r())))
  return `udp://127.0.0.1:${s.address().port}`
}

interface UdpClient {
  ask(question: string, timeoutMs?: number): Promise<string | undefined>
}

async function udpClient(port: number): Promise<UdpClient> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve))
  cleanup.push(() => new Promise<void>((r) => s.close(() => r())))
  return {
    ask: (question, timeoutMs = 2000) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => {
          s.off('message', onMessage)
          resolve(undefined)
        }, timeoutMs)
        const onMessage = (msg: Buffer): void => {
          clearTimeout(timer)
          s.off('message', onMessage)
          resolve(msg.toString())
        }
        s.on('message', onMessage)
        s.send(question, port, '127.0.0.1')
      }),
  }
}

async function gateway(config: Record<string, unknown>): Promise<StartedGateway> {
  const gw = await startGateway(config)
  cleanup.push(() => gw.close())
  return gw
}

describe('udp streams', () => {
  test('answers come back through the listener, balanced per client over two backends; a client keeps its backend', async () => {
    const a = await udpBackend('a')
    const b = await udpBackend('b')
    const gw = await gateway({ pools: { dns: { backends: [a, b] } }, streams: [{ name: 'dns', listen: { port: 0 }, protocol: 'udp', pool: 'dns' }] })
    const port = streamPort(gw, 'dns')
    const answers: string[] = []
    for (let i = 0; i < 4; i++) {
      const c = await udpClient(port)
      const first = await c.ask(`q${i}`)
      answers.push(first!)
      // Same client address:port, same session, same backend.
      expect((await c.ask(`again${i}`))?.[0]).toBe(first![0])
    }
    expect(answers.map((x) => x.split(':')[1])).toEqual(['q0', 'q1', 'q2', 'q3'])
    expect(answers.filter((x) => x.startsWith('a:'))).toHaveLength(2)
    expect(answers.filter((x) => x.startsWith('b:'))).toHaveLength(2)
    const [snap] = (await (await fetch(`${gw.adminUrl}/api/streams`)).json()) as Record<string, unknown>[]
    expect(snap).toMatchObject({ name: 'dns', protocol: 'udp', active: 4, accepted: 4, pools: { dns: 4 } })
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text()
    expect(metrics).toContain('switchyard_stream_connections_total{stream="dns",pool="dns"} 4')
  })

  test('a backend that answers with ICMP port unreachable counts as refused: its breaker opens', async () => {
    const live = await udpBackend('live')
    const probe = dgram.createSocket('udp4')
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve))
    const dead = `udp://127.0.0.1:${probe.address().port}`
    await new Promise<void>((r) => probe.close(() => r()))
    const gw = await gateway({
      pools: { dns: { backends: [dead, live], circuitBreaker: { consecutiveFailures: 1, openDuration: '1m' } } },
      streams: [{ name: 'dns', listen: { port: 0 }, protocol: 'udp', pool: 'dns' }],
    })
    const port = streamPort(gw, 'dns')
    const circuit = async (): Promise<string | undefined> =>
      ((await (await fetch(`${gw.adminUrl}/api/pools`)).json()) as { backends: { url: string; circuit: string }[] }[])[0]!.backends.find((b) => b.url === dead)?.circuit
    // Clients until one lands on the dead backend (round robin: the first or the second).
    await until(
      async () => {
        await (await udpClient(port)).ask('q', 200)
        return circuit()
      },
      (c) => c === 'open',
    )
    for (let i = 0; i < 3; i++) expect(await (await udpClient(port)).ask(`after${i}`)).toBe(`live:after${i}`)
    expect(gw.logs.filter((l) => l['type'] === 'stream').map((l) => l['reason'])).toContain('backend-error')
  })

  test('sessions end when idle and are bounded', async () => {
    const a = await udpBackend('a')
    const gw = await gateway({
      pools: { dns: { backends: [a] } },
      streams: [{ name: 'dns', listen: { port: 0 }, protocol: 'udp', pool: 'dns', idleTimeout: '1s', maxConnections: 1 }],
    })
    const port = streamPort(gw, 'dns')
    const first = await udpClient(port)
    expect(await first.ask('one')).toBe('a:one')
    // The only session is taken: another client's datagram is dropped.
    const second = await udpClient(port)
    expect(await second.ask('two', 150)).toBeUndefined()
    const lines = await until(
      () => gw.logs.filter((l) => l['type'] === 'stream'),
      (l) => l.length === 1,
    )
    expect(lines[0]).toMatchObject({ stream: 'dns', protocol: 'udp', reason: 'idle-timeout', bytesIn: 3, bytesOut: 5, backend: a })
    expect(await second.ask('three')).toBe('a:three')
  })
})
