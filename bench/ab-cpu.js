// A/B of CPU per request between two builds of the gateway (this checkout and another one),
// interleaved with the Node floor and the peer, for changes whose effect is below the noise of
// one cpu-per-request run. Usage: node bench/ab-cpu.js <other-checkout> [rounds] [seconds]
// (the other checkout needs its own `npm run build`).
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { children, cpuPerRequest, startTarget } from './targets-lib.js'

const other = resolve(process.argv[2] ?? '.')
const rounds = Number(process.argv[3] ?? 3)
const seconds = Number(process.argv[4] ?? 4)
const rate = Number(process.env.BENCH_RATE ?? 4000)
const dir = mkdtempSync(join(tmpdir(), 'sy-ab-'))
const { startTarget: startOther, children: otherChildren } = await import(join(other, 'bench/targets-lib.js'))

const measure = async (target) => (await cpuPerRequest(target, seconds, rate)).us

const up = await startTarget('upstream')
const cfg = (n) => JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, admin: false, log: { access: { file: join(dir, `a${n}.log`) } }, pools: { bench: { backends: [up.url] } }, routes: [{ name: 'bench', match: { path: '/' }, pool: 'bench' }] })
const targets = {
  floor: await startTarget('node-floor', up.url),
  peer: await startTarget('fastify-http-proxy', up.url),
  this: await startTarget('switchyard', up.url, { SWITCHYARD_BENCH_CONFIG: cfg(1) }),
  other: await startOther('switchyard', up.url, { SWITCHYARD_BENCH_CONFIG: cfg(2) }),
}
const results = Object.fromEntries(Object.keys(targets).map((k) => [k, []]))
for (let i = 0; i < rounds; i++) for (const [k, t] of Object.entries(targets)) results[k].push(await measure(t))
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
console.log(`CPU µs / request at ${rate} req/s, ${rounds} rounds × ${seconds}s, interleaved; other = ${other}`)
for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(6)} median ${median(v).toFixed(1)}  runs ${v.map((x) => x.toFixed(1)).join(' ')}  ÷ peer ${(median(results.peer) / median(v)).toFixed(2)}  ÷ floor ${(median(results.floor) / median(v)).toFixed(2)}`)
for (const c of [...children, ...otherChildren]) c.kill('SIGKILL')
process.exit(0)
