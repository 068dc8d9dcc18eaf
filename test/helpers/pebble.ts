/**
 * Pebble, Let's Encrypt's ACME test server (Debian package `pebble`), on free loopback ports,
 * validating HTTP-01 challenges against `httpPort` on 127.0.0.1 (names like `localhost` resolve
 * there). In CI (CI=true) a missing pebble fails the test with a clear message; elsewhere tests
 * skip loudly.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import net from 'node:net'
import { join } from 'node:path'
import { freePort } from './upstream.js'
import { createPki, type TestPki } from '../tls/helpers/pki.js'

const CANDIDATES = ['/usr/bin/pebble', '/usr/local/bin/pebble']

export function pebblePath(): string | undefined {
  return CANDIDATES.find((p) => existsSync(p))
}

export function pebbleAvailable(): boolean {
  if (pebblePath()) return true
  if (process.env.CI === 'true') throw new Error('pebble is required in CI but not installed (apt-get install pebble; .ci/run does this)')
  // eslint-disable-next-line no-console
  console.warn('\n*** SKIPPING ACME tests: pebble not installed (apt-get install pebble) ***\n')
  return false
}

export interface TestPebble {
  /** The ACME directory URL. */
  readonly directory: string
  /** PEM file of the CA that signed pebble's own HTTPS certificate. */
  readonly ca: string
  readonly log: () => string
  stop(): Promise<void>
}

function waitForPort(port: number, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy()
        resolve()
      })
      s.on('error', () => {
        if (Date.now() > deadline) reject(new Error(`pebble did not listen on ${port}`))
        else setTimeout(attempt, 50)
      })
    }
    attempt()
  })
}

export async function startPebble(httpPort: number): Promise<TestPebble> {
  const bin = pebblePath()
  if (!bin) throw new Error('pebble not installed (apt-get install pebble)')
  const pki: TestPki = await createPki()
  const leaf = await pki.issue('pebble', { subject: '/CN=pebble', ips: ['127.0.0.1'], dns: ['localhost'] })
  // Three distinct ports, none the challenge port: two free-port lookups can return the same port.
  const ports = new Set<number>()
  while (ports.size < 3) {
    const port = await freePort()
    if (port !== httpPort) ports.add(port)
  }
  const [api, mgmt, tlsPort] = [...ports] as [number, number, number]
  const config = join(pki.dir, 'pebble.json')
  await writeFile(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${api}`,
        managementListenAddress: `127.0.0.1:${mgmt}`,
        certificate: leaf.cert,
        privateKey: leaf.key,
        httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  )
  let out = ''
  const child: ChildProcess = spawn(bin, ['-config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // No random sleeps before validation, no randomly rejected nonces, fresh authorisations.
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
  })
  child.stdout!.on('data', (d: Buffer) => (out += d))
  child.stderr!.on('data', (d: Buffer) => (out += d))
  await waitForPort(api, Date.now() + 10_000)
  return {
    directory: `https://127.0.0.1:${api}/dir`,
    ca: pki.ca.cert,
    log: () => out,
    stop: async () => {
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
      await pki.cleanup()
    },
  }
}
