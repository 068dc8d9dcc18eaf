// CPU profile of one Switchyard route under load: where the proxy's time goes.
// Usage: npm run build && node bench/profile.js [plain|jwt|cache] [seconds]
// Starts the bench upstream and a Switchyard target (access log on, to a file, as in
// production) with --cpu-prof, drives it with autocannon, then prints self time by function and
// by area (switchyard core, adapters, fastify, undici, node:http, logging, other).
import autocannon from 'autocannon'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { children, startTarget } from './targets-lib.js'
import { extraRows } from './extra-rows.js'

const here = dirname(fileURLToPath(import.meta.url))
const route = process.argv[2] ?? 'plain'
const seconds = Number(process.argv[3] ?? 5)
const dir = mkdtempSync(join(tmpdir(), 'sy-prof-'))

function area(url, name) {
  if (url.includes('/dist/src/')) return 'switchyard core (src/)'
  if (url.includes('/dist/plugins/') || url.includes('/dist/routes/')) return 'switchyard adapters (plugins/)'
  if (url.includes('node_modules/fastify') || url.includes('node_modules/find-my-way') || url.includes('node_modules/avvio') || url.includes('node_modules/light-my-request')) return 'fastify'
  if (url.includes('node_modules/undici')) return 'undici (upstream client)'
  if (url.includes('node_modules/pino') || url.includes('sonic-boom')) return 'logging'
  if (url.includes('node_modules/prom-client')) return 'metrics (prom-client)'
  if (url.includes('node_modules/fast-jwt')) return 'jwt'
  if (url.startsWith('node:_http') || url.startsWith('node:http') || url.includes('_http_')) return 'node:http'
  if (url.startsWith('node:net') || url.startsWith('node:stream') || url.includes('internal/streams') || url.includes('node:internal/stream')) return 'node streams/net'
  if (name === '(garbage collector)') return 'GC'
  if (name === '(program)' || name === '(idle)') return name
  if (url === '') return 'native/other'
  return 'node other'
}

async function main() {
  const up = await startTarget('upstream')
  // The same configurations as `npm run bench` (bench/run.js, bench/extra-rows.js).
  const cfg = (extra) => ({
    server: { host: '127.0.0.1', port: 0 },
    admin: false,
    log: { access: { file: join(dir, 'access.log') } },
    ...extra.top,
    pools: { bench: { backends: [up.url] } },
    routes: [{ name: 'bench', match: { path: '/' }, pool: 'bench', ...extra.route }],
  })
  const extra = route === 'jwt' ? extraRows(up.url, cfg)[0] : route === 'cache' ? extraRows(up.url, cfg)[1] : { config: cfg({}), headers: {} }
  const headers = extra.headers ?? {}
  // `floor`: the Node floor itself (node:http + undici), to compare profiles area by area.
  const gw =
    route === 'floor'
      ? await startTarget('node-floor', up.url, {}, ['--cpu-prof', `--cpu-prof-dir=${dir}`])
      : await startTarget('switchyard', up.url, { SWITCHYARD_BENCH_CONFIG: JSON.stringify(extra.config) }, ['--cpu-prof', `--cpu-prof-dir=${dir}`])
  await autocannon({ url: gw.url, connections: 64, duration: 1, headers })
  const r = await autocannon({ url: gw.url, connections: 64, duration: seconds, headers })
  await new Promise((resolve) => {
    gw.child.once('exit', resolve)
    gw.child.kill('SIGINT')
  })
  up.child.kill('SIGINT')
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8'))
  const self = new Map()
  const dt = new Map()
  for (let i = 0; i < prof.samples.length; i++) dt.set(prof.samples[i], (dt.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0))
  let total = 0
  const byArea = new Map()
  for (const n of prof.nodes) {
    const t = dt.get(n.id) ?? 0
    if (t === 0) continue
    const { functionName, url, lineNumber } = n.callFrame
    if (functionName === '(idle)') continue
    total += t
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + t)
    const a = area(url, functionName)
    byArea.set(a, (byArea.get(a) ?? 0) + t)
  }
  console.log(`route: ${route}; ${Math.round(r.requests.average)} req/s over ${seconds}s (profiler on: slower than the bench); profile ${join(dir, file)}`)
  console.log('\nself time by area (busy time, idle excluded):')
  for (const [k, v] of [...byArea].sort((a, b) => b[1] - a[1])) console.log(`  ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`)
  // Inclusive time: a function's own samples plus its callees' (each function counted once per stack).
  const byId = new Map(prof.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const incl = new Map()
  for (const n of prof.nodes) {
    const t = dt.get(n.id) ?? 0
    if (t === 0 || n.callFrame.functionName === '(idle)') continue
    const seen = new Set()
    for (let id = n.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id).callFrame
      if (!f.url.includes('/dist/') && !f.url.includes('node_modules/fastify/')) continue
      const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${f.lineNumber + 1}`
      if (seen.has(key)) continue
      seen.add(key)
      incl.set(key, (incl.get(key) ?? 0) + t)
    }
  }
  console.log('\ntop 30 switchyard/fastify functions by inclusive time:')
  for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`)
  console.log('\ntop 30 functions by self time:')
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`)
}

main().catch((err) => {
  for (const c of children) c.kill('SIGINT')
  console.error(err)
  process.exit(1)
})
