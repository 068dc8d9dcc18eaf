/**
 * 100 MB through a TCP stream to a backend that stops reading now and then: backpressure must
 * hold the client back instead of buffering in the gateway, so what the gateway holds for the
 * connection (its socket buffers both ways, as GET /api/streams reports) stays a small
 * fraction of the transfer. Without backpressure a 30 ms stall alone piles up tens of MB.
 */
import net from 'node:net'
import { afterEach, expect, test } from 'vitest'
import { startGateway } from '../helpers/gateway.js'
import { streamPort } from './helpers.js'

const TOTAL = 100 * 1024 * 1024
const CHUNK = Buffer.alloc(64 * 1024, 0x61)

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

test('a 100 MB transfer through a TCP stream with bounded gateway memory', async () => {
  let received = 0
  let done: () => void
  const finished = new Promise<void>((r) => (done = r))
  // A sink that pauses for 30 ms after every 16 MB: a slow reader at times.
  const sink = net.createServer((s) => {
    let sinceStall = 0
    s.on('data', (d: Buffer) => {
      received += d.length
      sinceStall += d.length
      if (sinceStall >= 16 * 1024 * 1024) {
        sinceStall = 0
        s.pause()
        setTimeout(() => s.resume(), 30)
      }
    })
    s.on('end', () => {
      s.end()
      done()
    })
  })
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r))
  cleanup.push(() => new Promise((r) => sink.close(r)))
  const gw = await startGateway({
    pools: { p: { backends: [`tcp://127.0.0.1:${(sink.address() as net.AddressInfo).port}`] } },
    streams: [{ name: 'bulk', listen: { port: 0 }, pool: 'p' }],
  })
  cleanup.push(() => gw.close())

  let peak = 0
  let samples = 0
  const sampler = setInterval(() => {
    samples++
    peak = Math.max(peak, gw.streams.snapshot()[0]!.bufferedBytes)
  }, 2)
  try {
    const client = net.connect({ host: '127.0.0.1', port: streamPort(gw, 'bulk') })
    await new Promise<void>((r, j) => client.once('connect', r).once('error', j))
    let sent = 0
    while (sent < TOTAL) {
      sent += CHUNK.length
      if (!client.write(CHUNK)) await new Promise<void>((r) => client.once('drain', r))
    }
    client.end()
    await finished
    client.destroy()
  } finally {
    clearInterval(sampler)
  }
  expect(received).toBe(TOTAL)
  expect(samples).toBeGreaterThan(10)
  // A few stream high-water marks (64 KiB each) at most; never a share of the transfer.
  expect(peak).toBeGreaterThan(0)
  expect(peak).toBeLessThan(1024 * 1024)
}, 30_000)
