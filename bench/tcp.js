// Layer-4 rows of `npm run bench`: TCP throughput (MB/s) and connections per second, direct to
// a TCP server vs through a Switchyard tcp stream (access log on, to a file, as the HTTP rows).
// Run alone with `node bench/tcp.js`; bench/run.js calls tcpRows() at its end.
// Env: BENCH_TCP_MB (MB per throughput sample, default 512; BENCH_QUICK: 64), BENCH_TCP_STREAMS
// (parallel connections for throughput, 4), BENCH_DURATION (s per connections/s sample),
// BENCH_ROUNDS (median of), BENCH_CONNECTIONS (concurrent connect loops, 64).
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const quick = process.env.BENCH_QUICK === '1'
const totalMb = Number(process.env.BENCH_TCP_MB ?? (quick ? 64 : 512))
const streams = Number(process.env.BENCH_TCP_STREAMS ?? 4)
const duration = Number(process.env.BENCH_DURATION ?? (quick ? 2 : 5))
const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 3))
const concurrency = Number(process.env.BENCH_CONNECTIONS ?? 64)
const CHUNK = Buffer.alloc(64 * 1024, 0x78)

// --- server side (child processes) ---------------------------------------------------------

/** A sink (counts bytes, answers the count on FIN) and an echo server; prints their ports. */
function serveBackends() {
  const sink = net.createServer((s) => {
    let n = 0
    s.on('data', (d) => (n += d.length))
    s.on('end', () => s.end(`${n}\n`))
    s.on('error', () => {})
  })
  const echo = net.createServer((s) => {
    s.on('error', () => {})
    s.pipe(s)
  })
  sink.listen(0, '127.0.0.1', () =>
    echo.listen(0, '127.0.0.1', () => process.stdout.write(`ready ${sink.address().port} ${echo.address().port}\n`)),
  )
}

/** A gateway with a stream in front of each backend; prints the stream ports. */
async function serveGateway(sinkPort, echoPort, logFile) {
  const { createGateway, normalizeConfig } = await import('../dist/src/index.js')
  const { createGatewayLogger } = await import('../dist/src/log/logger.js')
  const settings = normalizeConfig({
    server: { host: '127.0.0.1', port: 0 },
    admin: false,
    log: { access: { file: logFile } },
    pools: { sink: { backends: [`tcp://127.0.0.1:${sinkPort}`] }, echo: { backends: [`tcp://127.0.0.1:${echoPort}`] } },
    streams: [
      { name: 'sink', listen: { host: '127.0.0.1', port: 0 }, pool: 'sink' },
      { name: 'echo', listen: { host: '127.0.0.1', port: 0 }, pool: 'echo' },
    ],
  })
  const gw = await createGateway(settings, { logger: createGatewayLogger(settings.log).logger })
  await gw.listen()
  process.stdout.write(`ready ${gw.streams.address('sink').port} ${gw.streams.address('echo').port}\n`)
}

/** The floor of any Node TCP proxy: accept, connect, pipe both ways (half-close kept), nothing else. */
function serveFloor(sinkPort, echoPort) {
  const proxy = (to) =>
    net.createServer({ allowHalfOpen: true }, (c) => {
      const b = net.connect({ port: to, host: '127.0.0.1', allowHalfOpen: true })
      c.on('error', () => b.destroy())
      b.on('error', () => c.destroy())
      c.pipe(b)
      b.pipe(c)
    })
  const a = proxy(sinkPort)
  const b = proxy(echoPort)
  a.listen(0, '127.0.0.1', () => b.listen(0, '127.0.0.1', () => process.stdout.write(`ready ${a.address().port} ${b.address().port}\n`)))
}

// --- load side -----------------------------------------------------------------------------

function startChild(args, pin) {
  const cmd = pin ? 'taskset' : process.execPath
  const argv = pin ? ['-c', '1', process.execPath, fileURLToPath(import.meta.url), ...args] : [fileURLToPath(import.meta.url), ...args]
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const m = /ready (\d+) (\d+)/.exec(out)
      if (!m) return
      // From here on stdout is the gateway's log: drained, not collected.
      child.stdout.removeAllListeners('data')
      child.stdout.resume()
      resolve({ child, a: Number(m[1]), b: Number(m[2]) })
    })
    child.once('exit', (code) => reject(new Error(`bench tcp child exited with ${code}`)))
  })
}

/** One connection sending `bytes` to the sink; resolves when the sink confirmed them all. */
function send(port, bytes) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    let answer = ''
    s.on('data', (d) => (answer += d))
    s.on('error', reject)
    s.on('close', () => (Number(answer.trim()) === bytes ? resolve() : reject(new Error(`sink got ${answer.trim()} of ${bytes} bytes`))))
    s.on('connect', async () => {
      let sent = 0
      while (sent < bytes) {
        sent += CHUNK.length
        if (!s.write(CHUNK)) await new Promise((r) => s.once('drain', r))
      }
      s.end()
    })
  })
}

async function throughput(port) {
  const per = Math.floor((totalMb * 2 ** 20) / streams / CHUNK.length) * CHUNK.length
  const started = performance.now()
  await Promise.all(Array.from({ length: streams }, () => send(port, per)))
  return (per * streams) / 2 ** 20 / ((performance.now() - started) / 1000)
}

/** One short connection: connect, one byte each way, close. */
function ping(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.write('x'))
    s.once('data', () => s.end())
    s.on('error', reject)
    s.on('close', resolve)
  })
}

async function connectionsPerSecond(port) {
  const end = performance.now() + duration * 1000
  let done = 0
  let errors = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        try {
          await ping(port)
          done++
        } catch {
          errors++
        }
      }
    }),
  )
  return { cps: done / duration, errors }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** Measures both targets and returns the markdown lines of the TCP table. */
export async function tcpRows({ pin = false } = {}) {
  const logDir = mkdtempSync(join(tmpdir(), 'sy-bench-tcp-'))
  const children = []
  try {
    const backends = await startChild(['--serve-backends'], pin)
    children.push(backends.child)
    const gateway = await startChild(['--serve-gateway', String(backends.a), String(backends.b), join(logDir, 'access.log')], pin)
    children.push(gateway.child)
    const floor = await startChild(['--serve-floor', String(backends.a), String(backends.b)], pin)
    children.push(floor.child)
    const targets = [
      { name: 'tcp direct', sink: backends.a, echo: backends.b },
      { name: 'node net pipe (Node floor)', sink: floor.a, echo: floor.b },
      { name: 'switchyard tcp stream', sink: gateway.a, echo: gateway.b },
    ]
    const samples = targets.map(() => ({ mbs: [], cps: [], errors: 0 }))
    for (let round = 1; round <= rounds; round++) {
      for (let i = 0; i < targets.length; i++) {
        process.stderr.write(`round ${round}/${rounds}: ${targets[i].name} (tcp) …\n`)
        samples[i].mbs.push(await throughput(targets[i].sink))
        const c = await connectionsPerSecond(targets[i].echo)
        samples[i].cps.push(c.cps)
        samples[i].errors += c.errors
      }
    }
    const rows = targets.map((t, i) => ({ name: t.name, mbs: median(samples[i].mbs), cps: median(samples[i].cps), errors: samples[i].errors }))
    const lines = [
      `TCP: ${totalMb} MB over ${streams} connections per throughput sample; connections/s with ${concurrency} concurrent connect-ping-close loops for ${duration}s; median of ${rounds}`,
      '',
      '| target | MB/s | ÷ direct | connections/s | ÷ direct | errors |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
    ]
    for (const r of rows) {
      lines.push(`| ${r.name} | ${r.mbs.toFixed(0)} | ${(r.mbs / rows[0].mbs).toFixed(2)} | ${r.cps.toFixed(0)} | ${(r.cps / rows[0].cps).toFixed(2)} | ${r.errors} |`)
    }
    return lines
  } finally {
    for (const c of children) c.kill('SIGTERM')
    rmSync(logDir, { recursive: true, force: true })
  }
}

const [mode, ...rest] = process.argv.slice(2)
if (mode === '--serve-backends') serveBackends()
else if (mode === '--serve-floor') serveFloor(Number(rest[0]), Number(rest[1]))
else if (mode === '--serve-gateway') await serveGateway(Number(rest[0]), Number(rest[1]), rest[2])
else if (process.argv[1] === fileURLToPath(import.meta.url)) console.log((await tcpRows()).join('\n'))
