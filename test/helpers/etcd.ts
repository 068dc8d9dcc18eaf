/**
 * A real etcd (Debian's etcd-server) for tests, on free ports, with its data in a temp folder.
 * In CI (CI=true) a missing etcd fails with a clear message; elsewhere tests skip loudly.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './upstream.js'

const CANDIDATES = ['/usr/bin/etcd', '/usr/local/bin/etcd']

export function etcdPath(): string | undefined {
  return CANDIDATES.find((p) => existsSync(p))
}

/** True when tests needing etcd must run (CI) or can (binary present). */
export function etcdAvailable(): boolean {
  if (etcdPath()) return true
  if (process.env.CI === 'true') throw new Error('etcd is required in CI but not installed (apt-get install etcd-server; .ci/run does this)')
  // eslint-disable-next-line no-console
  console.warn('\n*** SKIPPING etcd tests: etcd not installed (apt-get install etcd-server) ***\n')
  return false
}

export interface TestEtcd {
  readonly url: string
  /** Kill it (SIGKILL: an outage, not a shutdown); its data stays, so start() brings it back. */
  kill(): Promise<void>
  /** (Re)start on the same ports and data. */
  start(): Promise<void>
  stop(): Promise<void>
}

/**
 * Start etcd on free ports. A port found free can be taken by another test process before etcd
 * binds it (and two lookups can even return the same port): then etcd exits at once, and it is
 * started again on other ports, up to three times.
 */
export async function startEtcd(): Promise<TestEtcd> {
  let last: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startEtcdOnce()
    } catch (err) {
      last = err
    }
  }
  throw last
}

async function startEtcdOnce(): Promise<TestEtcd> {
  const bin = etcdPath()
  if (!bin) throw new Error('etcd not installed (apt-get install etcd-server)')
  const clientPort = await freePort()
  let peerPort = await freePort()
  while (peerPort === clientPort) peerPort = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'sy-etcd-'))
  const url = `http://127.0.0.1:${clientPort}`
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    child = spawn(
      bin,
      [
        '--name', 'test',
        '--data-dir', join(dir, 'data'),
        '--listen-client-urls', url,
        '--advertise-client-urls', url,
        '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
        '--initial-cluster', `test=http://127.0.0.1:${peerPort}`,
        '--log-level', 'error',
        '--logger', 'zap',
      ],
      { stdio: 'ignore', env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch } },
    )
    // A loaded CI machine (the whole suite in parallel) can take several seconds to start it.
    const deadline = Date.now() + 20_000
    for (;;) {
      try {
        const res = await fetch(`${url}/health`)
        if (res.ok && ((await res.json()) as { health?: string }).health === 'true') return
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL')
        throw new Error(`etcd did not start on ${url}`)
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  const kill = async (): Promise<void> => {
    const c = child
    if (c === undefined || c.exitCode !== null) return
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve())
      c.kill('SIGKILL')
    })
  }
  try {
    await start()
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  return {
    url,
    kill,
    start,
    async stop() {
      await kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
