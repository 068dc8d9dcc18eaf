/**
 * `server.tls.acme` against a real ACME server (pebble): the certificate is obtained at start
 * with HTTP-01 answered by the gateway's own plain listener, stored with restrictive
 * permissions, served by the TLS listener, reused on restart, and hot-swapped on renewal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { freePort, startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { pebbleAvailable, startPebble, type TestPebble } from '../helpers/pebble.js'
import { nextRenewalDelay, ACME_BACKOFF_BASE_MS, ACME_BACKOFF_MAX_MS } from '../../src/tls/acme.js'
import { normalizeConfig, ConfigError } from '../../src/config/index.js'
import { validateTlsFiles } from '../../src/tls/certificates.js'

const run = pebbleAvailable()
const DAY = 24 * 3_600_000

function served(port: number): Promise<{ serial: string; issuer: string; subjectaltname: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
      const c = s.getPeerCertificate()
      s.destroy()
      resolve({ serial: c.serialNumber, issuer: String(c.issuer.CN ?? ''), subjectaltname: c.subjectaltname ?? '' })
    })
    s.on('error', reject)
  })
}

describe.runIf(run)('ACME with pebble', () => {
  let pebble: TestPebble
  let storage: string
  let up: TestUpstream
  let httpPort: number
  const config = (tlsExtra: Record<string, unknown> = {}) => ({
    server: { port: httpPort, tls: { port: 0, ...tlsExtra, acme: { directory: pebble.directory, email: 'ops@example.com', domains: ['localhost'], storage, ca: pebble.ca } } },
    pools: { main: { backends: [up.url] } },
    routes: [{ name: 'all', match: { path: '/' }, pool: 'main' }],
  })

  beforeAll(async () => {
    httpPort = await freePort()
    pebble = await startPebble(httpPort)
    storage = join(await mkdtemp(join(tmpdir(), 'sy-acme-')), 'store')
    up = await startUpstream('a')
  })
  afterAll(async () => {
    await up?.close()
    await pebble?.stop()
    if (storage) await rm(join(storage, '..'), { recursive: true, force: true })
  })

  it('obtains a certificate at start over HTTP-01, stores it privately, serves it, renews it in place, reuses it on restart', async () => {
    let gw: StartedGateway | undefined = await startGateway(config())
    try {
      const port = Number(new URL(gw.httpsUrl!).port)
      const first = await served(port)
      expect(first.issuer).toMatch(/Pebble/)
      expect(first.subjectaltname).toContain('DNS:localhost')
      expect((await stat(storage)).mode & 0o777).toBe(0o700)
      expect((await stat(join(storage, 'localhost.key'))).mode & 0o777).toBe(0o600)
      expect((await stat(join(storage, 'account.key'))).mode & 0o777).toBe(0o600)
      const metrics = await gw.metrics.registry.metrics()
      expect(metrics).toMatch(/switchyard_tls_certificate_expiry_timestamp_seconds\{certificate=".*localhost\.crt"\} \d+/)
      expect(metrics).toMatch(/switchyard_acme_orders_total\{result="issued"\} 1/)
      // The dashboard's certificate line comes from GET /api/stats.
      const stats = (await (await fetch(`${gw.adminUrl}/api/stats`)).json()) as { certificates: { subject: string; acme: boolean; validTo: string }[] }
      expect(stats.certificates).toEqual([expect.objectContaining({ acme: true, subject: expect.stringContaining('localhost') })])
      expect(Date.parse(stats.certificates[0]!.validTo)).toBeGreaterThan(Date.now())

      // Renewal: a new order, the files replaced, the listener swaps without a restart.
      const renewed = await gw.acme!.renewNow()
      expect(renewed.serial).not.toBe(first.serial)
      const after = await served(port)
      expect(after.serial.toUpperCase()).toBe(renewed.serial.toUpperCase())

      await gw.close()
      gw = undefined
      // A restart with a usable stored certificate orders nothing.
      gw = await startGateway(config())
      const again = await served(Number(new URL(gw.httpsUrl!).port))
      expect(again.serial).toBe(after.serial)
      expect(await gw.metrics.registry.metrics()).not.toMatch(/switchyard_acme_orders_total\{result="issued"\} [1-9]/)
    } finally {
      await gw?.close()
    }
  })

  it('answers only pending challenges on the plain listener, ahead of redirectHttp; other requests are redirected as configured', async () => {
    const gw = await startGateway(config({ redirectHttp: true }))
    try {
      const miss = await fetch(`${gw.url}/.well-known/acme-challenge/unknown-token`, { redirect: 'manual' })
      expect(miss.status).toBe(404)
      const other = await fetch(`${gw.url}/hello`, { redirect: 'manual' })
      expect(other.status).toBe(308)
    } finally {
      await gw.close()
    }
  })
})

describe('ACME renewal schedule and configuration', () => {
  it('renews renewBefore ahead of expiry; after failures, backs off 1 min doubling to 1 h', () => {
    const now = 1_000_000
    expect(nextRenewalDelay(now + 30 * DAY + 5 * 3_600_000, now, 30 * DAY, 0)).toBe(5 * 3_600_000)
    expect(nextRenewalDelay(now + 10 * DAY, now, 30 * DAY, 0)).toBe(0)
    expect(nextRenewalDelay(now + 10 * DAY, now, 30 * DAY, 1)).toBe(ACME_BACKOFF_BASE_MS)
    expect(nextRenewalDelay(now + 10 * DAY, now, 30 * DAY, 3)).toBe(4 * ACME_BACKOFF_BASE_MS)
    expect(nextRenewalDelay(now + 10 * DAY, now, 30 * DAY, 20)).toBe(ACME_BACKOFF_MAX_MS)
    // Never longer than a day per timer: the check simply runs again.
    expect(nextRenewalDelay(now + 400 * DAY, now, 30 * DAY, 0)).toBe(DAY)
  })

  it('`check` accepts an ACME configuration whose certificate is not obtained yet', async () => {
    const settings = normalizeConfig({
      server: { tls: { port: 8443, acme: { directory: 'https://ca.example/dir', email: 'a@b.c', domains: ['example.com'], storage: join(tmpdir(), 'sy-acme-none') } } },
      pools: { p: { backends: ['http://127.0.0.1:1'] } },
      routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }],
    })
    expect(await validateTlsFiles(settings.server.tls)).toEqual([])
  })

  it('checks the directory, the domains and that a certificate source exists', () => {
    const problems = (tlsConfig: Record<string, unknown>) => {
      try {
        normalizeConfig({ server: { tls: { port: 8443, ...tlsConfig } }, pools: { p: { backends: ['http://127.0.0.1:1'] } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] })
        return []
      } catch (e) {
        return (e as ConfigError).lines()
      }
    }
    expect(problems({})).toEqual(['server.tls.certificates: is required (or acme)'])
    const acme = { directory: 'https://ca.example/dir', email: 'a@b.c', domains: ['ok.example.com'], storage: '/tmp/x' }
    expect(problems({ acme })).toEqual([])
    expect(() => normalizeConfig({ server: { workers: 2, tls: { port: 8443, acme } }, pools: { p: { backends: ['http://127.0.0.1:1'] } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] })).toThrow(
      'server.tls.acme: needs server.workers: 1 (ACME runs in one thread)',
    )
    expect(problems({ acme: { directory: 'http://ca.example/dir', email: 'a@b.c', domains: ['*.example.com', 'ok.example.com'], storage: '/tmp/x' } })).toEqual([
      'server.tls.acme.directory: must be an https:// URL',
      'server.tls.acme.domains[0]: a wildcard needs DNS-01, which is not supported; list the names',
    ])
  })
})
