// The protocol rows of `npm run bench` (run.js runs this after its own table; alone: node bench/grpc.js):
// - gRPC unary with @grpc/grpc-js as the client: the backend direct, and through Switchyard
//   (h2c with prior knowledge on the plain listener, `protocol: h2c` to the backend);
// - HTTP/1.1 clients (autocannon) through Switchyard to an HTTP/1.1 backend and to an h2c
//   backend (`protocol: h2c`), the h2-upstream row;
// - the HTTP/2 client choice of docs/protocols.md: undici's H2CClient and Switchyard's
//   node:http2 transport, each driving the same h2c server directly.
// Env: as run.js (BENCH_DURATION, BENCH_ROUNDS, BENCH_CONNECTIONS, BENCH_QUICK).
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const here = dirname(fileURLToPath(import.meta.url))
const PROTO = join(here, '../test/fixtures/echo.proto')
const quick = process.env.BENCH_QUICK === '1'
const duration = Number(process.env.BENCH_DURATION ?? (quick ? 2 : 5))
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64)
const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 3))
const BODY = JSON.stringify({ hello: 'world', service: 'bench-upstream' })

async function loadEcho() {
  const grpc = await import('@grpc/grpc-js')
  const loader = await import('@grpc/proto-loader')
  const def = loader.loadSync(PROTO, { defaults: true })
  return { grpc, Echo: grpc.loadPackageDefinition(def).switchyard.test.Echo }
}

// --- child processes: `node bench/grpc.js serve <kind> <port>` -----------------------------------
async function serve(kind, port) {
  const ready = () => process.stdout.write(`ready ${port}\n`)
  if (kind === 'grpc-backend') {
    const { grpc, Echo } = await loadEcho()
    const server = new grpc.Server()
    server.addService(Echo.service, { Unary: (call, cb) => cb(null, { text: call.request.text }) })
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? process.exit(1) : ready()))
  } else if (kind === 'h2c-backend') {
    const server = http2.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) })
      res.end(BODY)
    })
    server.listen(port, '127.0.0.1', ready)
  } else if (kind === 'h1-backend') {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) })
      res.end(BODY)
    })
    server.keepAliveTimeout = 60_000
    server.listen(port, '127.0.0.1', ready)
  } else if (kind === 'switchyard') {
    const { createGateway, normalizeConfig } = await import('../dist/src/index.js')
    const config = JSON.parse(process.env.SWITCHYARD_BENCH_CONFIG)
    config.server = { ...config.server, host: '127.0.0.1', port }
    const gw = await createGateway(normalizeConfig(config), { logger: false })
    await gw.listen()
    ready()
  }
}

// --- the driver --------------------------------------------------------------------------------
const children = []

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

async function start(kind, env = {}) {
  const port = await freePort()
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve', kind, String(port)], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  children.push(child)
  await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('ready')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}`)))
  })
  return port
}

function gateway(backend, protocol, extra = {}) {
  return start('switchyard', {
    SWITCHYARD_BENCH_CONFIG: JSON.stringify({
      admin: false,
      log: { access: false },
      server: { h2c: true },
      pools: { bench: { backends: [backend], ...(protocol ? { protocol } : {}) } },
      routes: [{ name: 'bench', match: { path: '/' }, pool: 'bench' }],
      ...extra,
    }),
  })
}

function summary(latencies, ms, errors) {
  const s = latencies.sort((a, b) => a - b)
  const q = (p) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN)
  return { rps: (s.length / ms) * 1000, p50: q(0.5), p99: q(0.99), errors }
}

/** `connections` loops calling `call()` back to back for `duration` seconds. */
async function closedLoop(call) {
  const latencies = []
  let errors = 0
  const end = performance.now() + duration * 1000
  const started = performance.now()
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const t = performance.now()
        try {
          await call()
          latencies.push(performance.now() - t)
        } catch {
          errors++
        }
      }
    }),
  )
  return summary(latencies, performance.now() - started, errors)
}

async function grpcUnary(port) {
  const { grpc, Echo } = await loadEcho()
  const client = new Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure())
  const call = () => new Promise((resolve, reject) => client.Unary({ text: 'bench' }, (err, r) => (err ? reject(err) : resolve(r))))
  for (let i = 0; i < 200; i++) await call()
  const r = await closedLoop(call)
  client.close()
  return r
}

async function http1Load(port) {
  const url = `http://127.0.0.1:${port}/`
  await autocannon({ url, connections, duration: 1 })
  const r = await autocannon({ url, connections, duration })
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx }
}

async function undiciH2c(port) {
  const { H2CClient } = await import('undici')
  const client = new H2CClient(`http://127.0.0.1:${port}`)
  const call = async () => {
    const r = await client.request({ path: '/', method: 'GET' })
    await r.body.text()
  }
  const r = await closedLoop(call)
  await client.close()
  return r
}

async function nodeH2Transport(port) {
  const { H2Origin } = await import('../dist/src/proxy/transports/h2.js')
  const origin = new H2Origin(`http://127.0.0.1:${port}`, { connectTimeout: 2000, rejectUnauthorized: true })
  const call = async () => {
    const r = await origin.request({ method: 'GET', path: '/', headers: {}, body: null, responseTimeout: 10_000 }, 'http', `127.0.0.1:${port}`)
    for await (const _ of r.body);
  }
  const r = await closedLoop(call)
  await origin.close()
  return r
}

export async function grpcRows() {
  if (!existsSync(join(here, '../dist/src/index.js'))) throw new Error('dist/ missing: run npm run build first')
  const grpcBackend = await start('grpc-backend')
  const h2cBackend = await start('h2c-backend')
  const h1Backend = await start('h1-backend')
  const viaGrpc = await gateway(`http://127.0.0.1:${grpcBackend}`, 'h2c')
  const viaH2c = await gateway(`http://127.0.0.1:${h2cBackend}`, 'h2c')
  const viaH1 = await gateway(`http://127.0.0.1:${h1Backend}`)
  const rows = [
    { name: 'gRPC unary, backend direct (grpc-js client)', run: () => grpcUnary(grpcBackend), group: 'grpc' },
    { name: 'gRPC unary via switchyard (h2c in, h2c out)', run: () => grpcUnary(viaGrpc), group: 'grpc' },
    { name: 'HTTP/1.1 via switchyard to an HTTP/1.1 backend', run: () => http1Load(viaH1), group: 'h2' },
    { name: 'HTTP/1.1 via switchyard to an h2c backend (protocol: h2c)', run: () => http1Load(viaH2c), group: 'h2' },
    { name: 'HTTP/2 client alone: undici H2CClient → h2c backend', run: () => undiciH2c(h2cBackend), group: 'client' },
    { name: 'HTTP/2 client alone: switchyard node:http2 transport → h2c backend', run: () => nodeH2Transport(h2cBackend), group: 'client' },
  ]
  const samples = rows.map(() => [])
  for (let round = 1; round <= rounds; round++) {
    for (let i = 0; i < rows.length; i++) {
      process.stderr.write(`round ${round}/${rounds}: ${rows[i].name} …\n`)
      samples[i].push(await rows[i].run())
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const out = rows.map((r, i) => ({
    name: r.name,
    group: r.group,
    rps: median(samples[i].map((x) => x.rps)),
    p50: median(samples[i].map((x) => x.p50)),
    p99: median(samples[i].map((x) => x.p99)),
    errors: samples[i].reduce((n, x) => n + x.errors, 0),
  }))
  const base = { grpc: out[0].rps, h2: out[2].rps, client: out[4].rps }
  const ms = (n) => (Number.isFinite(n) ? n.toFixed(2) : '-')
  const lines = [
    `protocol rows: ${connections} concurrent calls/connections, median of ${rounds} × ${duration}s${quick ? ' (BENCH_QUICK)' : ''}; not pinned`,
    '',
    '| target | req/s | p50 ms | p99 ms | errors | ÷ first row of its group |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...out.map((r) => `| ${r.name} | ${Math.round(r.rps)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.errors} | ${(r.rps / base[r.group]).toFixed(2)} |`),
  ]
  return lines.join('\n')
}

function stopChildren() {
  for (const c of children) c.kill('SIGTERM')
}

if (process.argv[2] === 'serve') {
  process.on('SIGTERM', () => process.exit(0))
  serve(process.argv[3], Number(process.argv[4])).catch((err) => {
    console.error(err)
    process.exit(1)
  })
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  grpcRows()
    .then((text) => console.log(text))
    .catch((err) => {
      console.error(err)
      process.exitCode = 1
    })
    .finally(stopChildren)
}

export { stopChildren }
