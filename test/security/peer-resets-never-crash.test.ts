/**
 * No peer action may crash the process. Sockets the gateway handles outside Fastify (CONNECT,
 * refused upgrades, parser errors, TLS) lose Node's own error handler; a TCP reset on one of
 * them used to be an unhandled 'error' event and killed the gateway with every connection.
 *
 * The gateway runs as a real child process (`switchyard start`), so a crash is an exit we can
 * see rather than an error inside the test runner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import tls from 'node:tls'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { request } from 'undici'
import { freePort, startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { createPki, type TestPki } from '../tls/helpers/pki.js'

const root = resolve(import.meta.dirname, '../..')
let dir: string
let child: ChildProcess
let out = ''
let up: TestUpstream
let pki: TestPki
let port: number
let tlsPort: number

beforeAll(async () => {
  up = await startUpstream('a')
  pki = await createPki()
  const leaf = await pki.issue('gw', { subject: '/CN=gw.test', dns: ['gw.test'], ips: ['127.0.0.1'] })
  port = await freePort()
  tlsPort = await freePort()
  dir = mkdtempSync(join(tmpdir(), 'sy-reset-'))
  const file = join(dir, 'gateway.yaml')
  writeFileSync(
    file,
    `server: { host: 127.0.0.1, port: ${port}, tls: { port: ${tlsPort}, http2: false, certificates: [{ cert: ${leaf.cert}, key: ${leaf.key} }] } }
admin: false
pools: { p: { backends: [${up.url}] } }
routes:
  - { name: ws, match: { path: /ws }, pool: p, websocket: true }
  - { name: all, match: { path: / }, pool: p }
`,
  )
  child = spawn(process.execPath, [join(root, 'bin/switchyard.js'), 'start', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  await waitFor(() => out.includes('switchyard listening') || child.exitCode !== null, 10_000, 25, 'gateway start')
  expect(child.exitCode, out).toBeNull()
}, 30_000)

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL')
  await up?.close()
  await pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** A connection: `io` is what the client writes and reads, `tcp` the socket to reset. */
type Opener = () => { io: net.Socket; tcp: net.Socket; ready: string }

const plain: Opener = () => {
  const tcp = net.connect(port, '127.0.0.1')
  return { io: tcp, tcp, ready: 'connect' }
}
const secure: Opener = () => {
  const tcp = net.connect(tlsPort, '127.0.0.1')
  return { io: tls.connect({ socket: tcp, rejectUnauthorized: false, servername: 'gw.test' }), tcp, ready: 'secureConnect' }
}

/**
 * Send `payload`, wait until the gateway has answered something (or `waitMs`), then reset the
 * connection (RST, not FIN) with the answer unread.
 */
function sendThenReset(open: Opener, payload: string, waitMs = 200): Promise<string> {
  return new Promise((done) => {
    const { io, tcp, ready } = open()
    let got = ''
    let timer: NodeJS.Timeout | undefined
    let finished = false
    const reset = (): void => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      if (!tcp.destroyed) tcp.resetAndDestroy()
      io.destroy()
      done(got)
    }
    io.on('error', reset)
    tcp.on('error', reset)
    io.once('close', reset)
    io.once(ready, () => {
      io.write(payload)
      timer = setTimeout(reset, waitMs)
    })
    io.once('data', (d) => {
      got = d.toString('latin1')
      reset()
    })
  })
}

async function stillServing(): Promise<void> {
  expect(child.exitCode, `gateway exited:\n${out}`).toBeNull()
  const res = await request(`http://127.0.0.1:${port}/alive`)
  await res.body.text()
  expect(res.statusCode).toBe(200)
  expect(out).not.toMatch(/Unhandled 'error' event|uncaught/i)
}

describe('a peer reset never crashes the gateway', () => {
  it('CONNECT on the plain listener, 405 left unread, then RST', async () => {
    for (let i = 0; i < 5; i++) {
      const got = await sendThenReset(plain, 'CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n')
      expect(got).toMatch(/^HTTP\/1\.1 405 /)
    }
    await stillServing()
  })

  it('CONNECT on the TLS listener, then RST', async () => {
    for (let i = 0; i < 5; i++) {
      const got = await sendThenReset(secure, 'CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n')
      expect(got).toMatch(/^HTTP\/1\.1 405 /)
    }
    await stillServing()
  })

  it('a parser rejection (400), then RST', async () => {
    for (const open of [plain, secure]) {
      const got = await sendThenReset(open, 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n')
      expect(got).toMatch(/^HTTP\/1\.1 400 /)
    }
    await stillServing()
  })

  it('a refused upgrade (route without websocket), then RST', async () => {
    for (const open of [plain, secure]) {
      const got = await sendThenReset(open, 'GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
      expect(got).toMatch(/^HTTP\/1\.1 400 /)
    }
    await stillServing()
  })

  it('resets mid-request, mid-header and mid-upgrade', async () => {
    const partial = ['GET /x HTTP/1.1\r\nHost: a\r\n', 'POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc', 'CONNECT a:1 HTTP/1.1\r\n', 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n']
    for (const open of [plain, secure]) for (const p of partial) await sendThenReset(open, p, 30)
    await stillServing()
  })

  it('a bounded, seeded fuzzer of requests and resets leaves the process serving', async () => {
    const rand = mulberry32(0x5eed)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
    const methods = ['GET', 'HEAD', 'POST', 'CONNECT', 'OPTIONS', 'TRACE', 'PUT', 'G\x00T', '']
    const targets = ['/', '/ws', 'a:1', '*', '/%zz', 'http://x/y', '/x?q=' + 'a'.repeat(50)]
    const extras = ['', 'Content-Length: 5\r\n', 'Transfer-Encoding: chunked\r\n', 'Connection: Upgrade\r\nUpgrade: websocket\r\n', 'Expect: 100-continue\r\nContent-Length: 9\r\n', 'Content-Length: 1\r\nContent-Length: 2\r\n', 'X: \x01\r\n']
    const tails = ['\r\n', '\r\n12345', '\r\n0\r\n\r\n', '', '\r\n\r\n\r\nGET / HTTP/1.1\r\n']
    const rounds = 150
    for (let i = 0; i < rounds; i += 6) {
      await Promise.all(
        Array.from({ length: 6 }, () => {
          const head = `${pick(methods)} ${pick(targets)} HTTP/1.1\r\nHost: ${pick(['a', 'a:1', ''])}\r\n${pick(extras)}${pick(tails)}`
          return sendThenReset(rand() < 0.7 ? plain : secure, head, Math.floor(rand() * 40))
        }),
      )
    }
    await stillServing()
  }, 60_000)
})

/** A small seeded PRNG, so a failing run can be replayed exactly. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
