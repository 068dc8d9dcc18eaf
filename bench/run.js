// npm run bench: drive the upstream directly and through each proxy with autocannon, in one
// run on one machine, and print req/s, p50/p99, the largest RSS of the process under test and
// ratios (to direct, to the peer baseline Fastify + @fastify/http-proxy, and to the Node floor).
// Every Switchyard row runs as users run it: access log on, written to a file (log.access.file).
// Env: BENCH_DURATION (s per sample, default 5), BENCH_ROUNDS (samples per row, median reported,
// default 3), BENCH_CONNECTIONS (64), BENCH_QUICK=1 (1 round of 2 s: a smoke run),
// BENCH_ACCESS_OFF_ROW=1 (adds the plain route with the access log off, to see what it costs),
// BENCH_PROTOCOLS=0 (skips the gRPC unary and h2-upstream rows of bench/grpc.js).
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, cpus, totalmem, loadavg } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import net from 'node:net'
import autocannon from 'autocannon'
import { GATEWAY_NODE_FLAGS, nodeFlagsFor } from './targets-lib.js'

const here = dirname(fileURLToPath(import.meta.url))
const quick = process.env.BENCH_QUICK === '1'
const duration = Number(process.env.BENCH_DURATION ?? (quick ? 2 : 5))
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64)
const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 3))
const children = []
const logDir = mkdtempSync(join(tmpdir(), 'sy-bench-logs-'))

/** Resident set size of a process in bytes (Linux /proc), or undefined where unreadable. */
function rssOf(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

/** Samples `pid`'s RSS every 100 ms until the returned stop() is called; stop() gives the largest. */
function sampleRss(pid) {
  let max = pid === undefined ? undefined : rssOf(pid)
  const timer = setInterval(() => {
    const v = rssOf(pid)
    if (v !== undefined && (max === undefined || v > max)) max = v
  }, 100)
  return () => {
    clearInterval(timer)
    return max
  }
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

// The system under test (upstream and proxy) gets one core, the load generator the other, as
// in the one-core measurements; without taskset (or on one core) nothing is pinned.
const haveTaskset = cpus().length >= 2 && ['/usr/bin/taskset', '/bin/taskset'].some((p) => existsSync(p))
if (haveTaskset) {
  try {
    execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' })
  } catch {
    /* pinning is an optimisation of the measurement, not a requirement */
  }
}

function spawnPinned(cmd, args, opts) {
  return haveTaskset ? spawn('taskset', ['-c', '1', cmd, ...args], opts) : spawn(cmd, args, opts)
}

async function start(kind, upstream, env = {}, pin = true) {
  const port = await freePort()
  const child = (pin ? spawnPinned : spawn)(process.execPath, [...nodeFlagsFor(kind), join(here, 'targets.js'), kind, String(port), upstream ?? ''], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  children.push(child)
  await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('ready')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}`)))
  })
  // taskset execs the command: the child's pid is the server's.
  return { url: `http://127.0.0.1:${port}`, pid: child.pid }
}

function startNginx(upstream) {
  const bin = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p))
  if (!bin) return undefined
  return (async () => {
    const port = await freePort()
    const dir = mkdtempSync(join(tmpdir(), 'sy-nginx-'))
    const conf = join(dir, 'nginx.conf')
    writeFileSync(
      conf,
      `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 4096; }
http { access_log off; upstream up { server ${upstream.replace('http://', '')}; keepalive 128; }
  server { listen 127.0.0.1:${port}; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }`,
    )
    const child = spawnPinned(bin, ['-c', conf, '-p', dir], { stdio: 'ignore' })
    children.push(child)
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise((r) => {
        const s = net.connect(port, '127.0.0.1', () => (s.end(), r(true)))
        s.on('error', () => r(false))
      })
      if (ok) return { url: `http://127.0.0.1:${port}`, pid: child.pid }
      await new Promise((r) => setTimeout(r, 50))
    }
    return undefined
  })()
}

async function load(url, headers = {}, pid) {
  // Warm up connection pools and JITs first.
  await autocannon({ url, connections, duration: 1, headers })
  const stop = sampleRss(pid)
  const r = await autocannon({ url, connections, duration, headers })
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx, rss: stop() }
}

async function main() {
  if (!existsSync(join(here, '../dist/src/index.js'))) throw new Error('dist/ missing: run npm run build first')
  const up = await start('upstream')
  const upstream = up.url
  let logs = 0
  // Every Switchyard row logs each request, as a default installation does, to a file of its own.
  const gwConfig = (extra) => ({
    server: { host: '127.0.0.1', port: 0 },
    admin: false,
    log: { access: { file: join(logDir, `access-${++logs}.log`) } },
    ...extra.top,
    pools: { bench: { backends: [upstream] } },
    routes: [{ name: 'bench', match: { path: '/' }, pool: 'bench', ...extra.route }],
  })
  // Start every target first, then measure them interleaved over several rounds and keep the
  // median: on shared or virtual machines a single run per row is mostly noise.
  const targets = []
  targets.push({ name: 'upstream direct', ...up })
  targets.push({ name: 'node:http + undici (Node floor)', ...(await start('node-floor', upstream)) })
  targets.push({ name: 'Fastify + @fastify/http-proxy (peer)', ...(await start('fastify-http-proxy', upstream)) })
  const nginx = await startNginx(upstream)
  if (nginx) targets.push({ name: 'NGINX reverse proxy', ...nginx })
  const plain = gwConfig({})
  targets.push({ name: 'switchyard plain route', accessLog: plain.log.access.file, ...(await start('switchyard', upstream, { SWITCHYARD_BENCH_CONFIG: JSON.stringify(plain) })) })
  if (process.env.BENCH_ACCESS_OFF_ROW === '1') {
    // Opt-in reference row: what the access log costs on the plain route.
    const off = { ...gwConfig({}), log: { access: false } }
    targets.push({ name: 'switchyard plain route, access log off (reference)', ...(await start('switchyard', upstream, { SWITCHYARD_BENCH_CONFIG: JSON.stringify(off) })) })
  }
  for (const extra of (await import('./extra-rows.js')).extraRows(upstream, gwConfig)) {
    const started = await start('switchyard', upstream, { SWITCHYARD_BENCH_CONFIG: JSON.stringify(extra.config) })
    targets.push({ name: extra.name, accessLog: extra.config.log.access.file, headers: extra.headers, ...started })
  }
  // server.workers: the same plain route on 1 and on 2 worker threads, neither pinned (a
  // pinned process has one core whatever its threads). The load generator shares the cores.
  // The cache hit too: with workers the one memory cache is the main thread's, each hit a
  // message round trip from the worker (docs/workers.md).
  if (cpus().length >= 2 && process.env.BENCH_WORKERS_ROWS !== '0') {
    for (const [row, extra] of [['plain route', {}], ['cache hit', { route: { cache: { ttl: '60s' } } }]]) {
      for (const n of [1, 2]) {
        const cfg = gwConfig(extra)
        const started = await start('switchyard-workers', upstream, { SWITCHYARD_BENCH_CONFIG: JSON.stringify(cfg), SWITCHYARD_BENCH_WORKERS: String(n) }, false)
        targets.push({ name: `switchyard ${row}, workers: ${n} (unpinned)`, accessLog: cfg.log.access.file, ...started })
      }
    }
  }
  // Other work on the machine skews every row: the 1-minute load average before and after says
  // how busy it was (this run alone accounts for about 2).
  const loadBefore = loadavg()[0]
  const samples = targets.map(() => [])
  for (let round = 1; round <= rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      process.stderr.write(`round ${round}/${rounds}: ${targets[i].name} …\n`)
      samples[i].push(await load(targets[i].url, targets[i].headers, targets[i].pid))
    }
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b)
    return s[Math.floor(s.length / 2)]
  }
  const rows = targets.map((t, i) => ({
    name: t.name,
    rps: median(samples[i].map((x) => x.rps)),
    p50: median(samples[i].map((x) => x.p50)),
    p99: median(samples[i].map((x) => x.p99)),
    errors: samples[i].reduce((n, x) => n + x.errors, 0),
    rss: samples[i].reduce((m, x) => (x.rss !== undefined && (m === undefined || x.rss > m) ? x.rss : m), undefined),
  }))

  const loadAfter = loadavg()[0]
  const direct = rows[0].rps
  const floor = rows[1].rps
  const peer = rows[2].rps
  const fmt = (n) => (Number.isFinite(n) ? n.toFixed(2) : '-')
  const mib = (b) => (b === undefined ? '-' : (b / 2 ** 20).toFixed(0))
  const lines = []
  lines.push(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ${connections} connections, median of ${rounds} × ${duration}s per row${quick ? ' (BENCH_QUICK)' : ''}; ${haveTaskset ? 'load generator on CPU 0, upstream and proxy pinned to CPU 1' : 'not pinned'}; switchyard rows with the access log on, to a file, and ${GATEWAY_NODE_FLAGS.join(" ")} as its launchers start it; load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after`)
  lines.push('')
  lines.push(`| target | req/s | p50 ms | p99 ms (${connections} conns) | errors | max RSS MiB | ÷ direct | ÷ peer (Fastify+http-proxy) | ÷ Node floor |`)
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of rows) {
    lines.push(`| ${r.name} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.errors} | ${mib(r.rss)} | ${fmt(r.rps / direct)} | ${fmt(r.rps / peer)} | ${fmt(r.rps / floor)} |`)
  }
  // The access log was really on: count what each Switchyard row wrote (lines still buffered
  // in the running process, under 4 KiB, are not counted).
  const written = targets.filter((t) => t.accessLog).map((t) => `${t.name}: ${countLines(t.accessLog)}`)
  lines.push('')
  lines.push(`access-log lines written: ${written.join('; ')}`)
  console.log(lines.join('\n'))
  // Layer 4 (bench/tcp.js): TCP throughput and connections/s, direct vs a tcp stream.
  console.log(`\n${(await (await import('./tcp.js')).tcpRows({ pin: haveTaskset })).join('\n')}`)
  // The gRPC unary and h2-upstream rows (bench/grpc.js), unless BENCH_PROTOCOLS=0.
  if (process.env.BENCH_PROTOCOLS !== '0') {
    for (const c of children) c.kill('SIGTERM')
    const protocols = await import('./grpc.js')
    try {
      console.log(`\n${await protocols.grpcRows()}`)
    } finally {
      protocols.stopChildren()
    }
  }
}

function countLines(file) {
  try {
    let n = 0
    const text = readFileSync(file, 'utf8')
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++
    return n
  } catch {
    return 0
  }
}

main()
  .catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
  .finally(() => {
    // SIGTERM, not SIGKILL: an NGINX master killed outright leaves its workers running.
    for (const c of children) c.kill('SIGTERM')
    rmSync(logDir, { recursive: true, force: true })
  })
