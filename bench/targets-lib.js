// Starting bench targets (bench/targets.js) in processes of their own, for the scripts that
// measure one thing (cpu-per-request.js, profile.js, workers-scaling.js). Every target started
// is remembered so a failed run can kill them all: none outlives the bench.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

/**
 * The Node flags the gateway's launchers use (bin/switchyard.js's shebang, the Dockerfile, the
 * systemd unit): gateway targets run with them, as `switchyard start` does; the peers run as
 * their users would start them, with Node's defaults. BENCH_GATEWAY_FLAGS (space-separated, may
 * be empty) replaces them, to measure what a flag costs.
 */
export const GATEWAY_NODE_FLAGS = process.env.BENCH_GATEWAY_FLAGS === undefined ? ['--max-semi-space-size=16'] : process.env.BENCH_GATEWAY_FLAGS.split(' ').filter(Boolean)

/** The Node flags to start a bench target of `kind` with. */
export function nodeFlagsFor(kind) {
  return kind.startsWith('switchyard') ? GATEWAY_NODE_FLAGS : []
}

/** Every target process started so far. */
export const children = []

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/** Starts `node [nodeArgs] bench/targets.js kind port upstream`; resolves once it says "ready". */
export async function startTarget(kind, upstream, env = {}, nodeArgs = []) {
  const port = await freePort()
  const child = spawn(process.execPath, [...nodeFlagsFor(kind), ...nodeArgs, join(here, 'targets.js'), kind, String(port), upstream ?? ''], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })
  children.push(child)
  await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('ready')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}`)))
  })
  return { url: `http://127.0.0.1:${port}`, child }
}

const TICK = 100 // USER_HZ on Linux

/** CPU time (user + system) `pid` has used, in clock ticks, from /proc/PID/stat. */
function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return Number(rest[11]) + Number(rest[12]) // utime + stime
}

/**
 * CPU µs per request of `target` driven at `rate` req/s (64 connections) for `seconds`, after a
 * 1 s warm-up: the work the process did, which a busy machine disturbs far less than req/s.
 */
export async function cpuPerRequest(target, seconds, rate, headers = {}) {
  await autocannon({ url: target.url, connections: 64, duration: 1, headers })
  const before = cpuTicks(target.child.pid)
  const r = await autocannon({ url: target.url, connections: 64, duration: seconds, headers, overallRate: rate })
  const ticks = cpuTicks(target.child.pid) - before
  return { rps: Math.round(r.requests.average), us: ((ticks / TICK) * 1e6) / r.requests.total }
}
