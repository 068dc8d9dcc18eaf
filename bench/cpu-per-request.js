// CPU time per request of each proxy (user + system, from /proc/PID/stat), a figure that a busy
// or shared machine disturbs far less than requests per second: it counts the work the process
// did, not how much of the machine it was given. Usage: npm run build && node bench/cpu-per-request.js [seconds]
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { children, cpuPerRequest, startTarget } from './targets-lib.js'
import { extraRows } from './extra-rows.js'

const seconds = Number(process.argv[2] ?? 5)
// One fixed request rate for every target (BENCH_RATE, default 4000/s, below what each sustains):
// CPU per request depends on load (more requests per event-loop turn batch better), so every
// row is measured at the same one.
const rate = Number(process.env.BENCH_RATE ?? 4000)
const dir = mkdtempSync(join(tmpdir(), 'sy-cpu-'))

async function measure(name, target, headers = {}) {
  return { name, ...(await cpuPerRequest(target, seconds, rate, headers)) }
}

async function main() {
  const up = await startTarget('upstream')
  let n = 0
  // The same configurations as `npm run bench` (bench/run.js, bench/extra-rows.js).
  const cfg = (extra) => ({
    server: { host: '127.0.0.1', port: 0 },
    admin: false,
    log: { access: { file: join(dir, `access-${++n}.log`) } },
    ...extra.top,
    pools: { bench: { backends: [up.url] } },
    routes: [{ name: 'bench', match: { path: '/' }, pool: 'bench', ...extra.route }],
  })
  const rows = []
  const floor = await startTarget('node-floor', up.url)
  rows.push(await measure('node:http + undici (Node floor)', floor))
  const peer = await startTarget('fastify-http-proxy', up.url)
  rows.push(await measure('Fastify + @fastify/http-proxy (peer)', peer))
  const plain = await startTarget('switchyard', up.url, { SWITCHYARD_BENCH_CONFIG: JSON.stringify(cfg({})) })
  rows.push(await measure('switchyard plain route', plain))
  const started = [up, floor, peer, plain]
  if (process.env.BENCH_ACCESS_OFF_ROW === '1') {
    const off = await startTarget('switchyard', up.url, { SWITCHYARD_BENCH_CONFIG: JSON.stringify({ ...cfg({}), log: { access: false } }) })
    started.push(off)
    rows.push(await measure('switchyard plain route, access log off (reference)', off))
  }
  for (const extra of extraRows(up.url, cfg)) {
    const t = await startTarget('switchyard', up.url, { SWITCHYARD_BENCH_CONFIG: JSON.stringify(extra.config) })
    started.push(t)
    rows.push(await measure(extra.name, t, extra.headers))
  }
  for (const t of started) t.child.kill('SIGINT')
  const base = rows[0].us
  const peerUs = rows[1].us
  console.log(`at ${rate} req/s, 64 connections, ${seconds} s per row`)
  console.log('| target | req/s (this run) | CPU µs / request | ÷ peer (peer µs / µs) | ÷ floor (floor µs / µs) |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  for (const r of rows) console.log(`| ${r.name} | ${r.rps} | ${r.us.toFixed(1)} | ${(peerUs / r.us).toFixed(2)} | ${(base / r.us).toFixed(2)} |`)
}

main().catch((err) => {
  for (const c of children) c.kill('SIGINT')
  console.error(err)
  process.exit(1)
})
