// server.workers scaling on a larger machine: the plain route on 1, 2, 4, 8 worker threads
// (BENCH_WORKERS="1 2 4 8", capped at the cores), behind BENCH_UPSTREAMS upstream processes
// (default 4, so the upstream is not the bottleneck), driven by autocannon from this process
// with BENCH_CONNECTIONS (default 256) for BENCH_DURATION seconds (default 10).
// Prints req/s per worker count and the scaling per added worker against linear.
// Usage: npm run build && node bench/workers-scaling.js
// For honest figures, leave cores free for the load generator (taskset -c for this process), or
// run autocannon from another machine against the printed URL.
import autocannon from 'autocannon'
import { availableParallelism, cpus } from 'node:os'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { children, startTarget } from './targets-lib.js'

const cores = availableParallelism()
const counts = (process.env.BENCH_WORKERS ?? '1 2 4 8').split(/\s+/).map(Number).filter((n) => n >= 1 && n <= cores)
const upstreams = Number(process.env.BENCH_UPSTREAMS ?? 4)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 256)
const duration = Number(process.env.BENCH_DURATION ?? 10)
const dir = mkdtempSync(join(tmpdir(), 'sy-scale-'))

async function main() {
  const ups = []
  for (let i = 0; i < upstreams; i++) ups.push((await startTarget('upstream')).url)
  console.log(`machine: ${cores} cores available (${cpus()[0]?.model ?? '?'}); ${upstreams} upstream processes; ${connections} connections, ${duration} s per row; access log on`)
  console.log('| workers | req/s | p99 ms | vs 1 worker | per added worker vs linear |')
  console.log('| ---: | ---: | ---: | ---: | ---: |')
  let one
  for (const n of counts) {
    const config = {
      server: { host: '127.0.0.1', port: 0 },
      admin: false,
      log: { access: { file: join(dir, `access-${n}.log`) } },
      pools: { bench: { backends: ups } },
      routes: [{ name: 'bench', match: { path: '/' }, pool: 'bench' }],
    }
    const gw = await startTarget('switchyard-workers', ups[0], { SWITCHYARD_BENCH_CONFIG: JSON.stringify(config), SWITCHYARD_BENCH_WORKERS: String(n) })
    await autocannon({ url: gw.url, connections, duration: 2 })
    const r = await autocannon({ url: gw.url, connections, duration })
    gw.child.kill('SIGTERM')
    one ??= r.requests.average
    const ratio = r.requests.average / one
    const perAdded = n === 1 ? '-' : ((ratio - 1) / (n - 1)).toFixed(2)
    console.log(`| ${n} | ${Math.round(r.requests.average)} | ${r.latency.p99} | ${ratio.toFixed(2)} | ${perAdded} |`)
  }
  for (const c of children) c.kill('SIGTERM')
}

main().catch((err) => {
  console.error(err)
  for (const c of children) c.kill('SIGKILL')
  process.exit(1)
})
