// npm run bench: drive the upstream directly and through each proxy with autocannon, in one
// run on one machine, and print req/s, p50/p99 and ratios (to direct, to the peer baseline
// Fastify + @fastify/http-proxy, and to the Node floor). Env: BENCH_DURATION (s per sample,
// default 5), BENCH_ROUNDS (samples per row, median reported, default 3), BENCH_CONNECTIONS (64).
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir, cpus, totalmem } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import net from 'node:net'
import autocannon from 'autocannon'

const here = dirname(fileURLToPath(import.meta.url))
const duration = Number(process.env.BENCH_DURATION ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const children = []

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

async function start(kind, upstream, env = {}) {
  const port = await freePort()
  const child = spawnPinned(process.execPath, [join(here, 'targets.js'), kind, String(port), upstream ?? ''], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  children.push(child)
  await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('ready')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}`)))
  })
  return `http://127.0.0.1:${port}`
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
      if (ok) return `http://127.0.0.1:${port}`
      await new Promise((r) => setTimeout(r, 50))
    }
    return undefined
  })()
}

async function load(url, headers = {}) {
  // Warm up connection pools and JITs first.
  await autocannon({ url, connections, duration: 1, headers })
  const r = await autocannon({ url, connections, duration, headers })
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx }
}

async function main() {
  if (!existsSync(join(here, '../dist/src/index.js'))) throw new Error('dist/ missing: run npm run build first')
  const upstream = await start('upstream')
  const gwConfig = (extra) => ({
    server: { host: '127.0.0.1', port: 0 },
    admin: false,
    ...extra.top,
    pools: { bench: { backends: [upstream] } },
    routes: [{ name: 'bench', match: { path: '/' }, pool: 'bench', ...extra.route }],
  })
  // Start every target first, then measure them interleaved over several rounds and keep the
  // median: on shared or virtual machines a single run per row is mostly noise.
  const targets = []
  targets.push({ name: 'upstream direct', url: upstream })
  targets.push({ name: 'node:http + undici (Node floor)', url: await start('node-floor', upstream) })
  targets.push({ name: 'Fastify + @fastify/http-proxy (peer)', url: await start('fastify-http-proxy', upstream) })
  const nginx = await startNginx(upstream)
  if (nginx) targets.push({ name: 'NGINX reverse proxy', url: nginx })
  targets.push({ name: 'switchyard plain route', url: await start('switchyard', upstream, { SWITCHYARD_BENCH_CONFIG: JSON.stringify(gwConfig({})) }) })
  for (const extra of (await import('./extra-rows.js')).extraRows(upstream, gwConfig)) {
    targets.push({ name: extra.name, url: await start('switchyard', upstream, { SWITCHYARD_BENCH_CONFIG: JSON.stringify(extra.config) }), headers: extra.headers })
  }
  const samples = targets.map(() => [])
  for (let round = 1; round <= rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      process.stderr.write(`round ${round}/${rounds}: ${targets[i].name} …\n`)
      samples[i].push(await load(targets[i].url, targets[i].headers))
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
  }))

  const direct = rows[0].rps
  const floor = rows[1].rps
  const peer = rows[2].rps
  const fmt = (n) => (Number.isFinite(n) ? n.toFixed(2) : '-')
  const lines = []
  lines.push(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ${connections} connections, median of ${rounds} × ${duration}s per row; ${haveTaskset ? 'load generator on CPU 0, upstream and proxy pinned to CPU 1' : 'not pinned'}`)
  lines.push('')
  lines.push('| target | req/s | p50 ms | p99 ms | errors | ÷ direct | ÷ peer (Fastify+http-proxy) | ÷ Node floor |')
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const r of rows) {
    lines.push(`| ${r.name} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.errors} | ${fmt(r.rps / direct)} | ${fmt(r.rps / peer)} | ${fmt(r.rps / floor)} |`)
  }
  console.log(lines.join('\n'))
}

main()
  .catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
  .finally(() => {
    // SIGTERM, not SIGKILL: an NGINX master killed outright leaves its workers running.
    for (const c of children) c.kill('SIGTERM')
  })
