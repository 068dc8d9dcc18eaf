import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { X509Certificate } from 'node:crypto'
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import { createPki, type TestPki, type IssuedFiles } from './helpers/pki.js'
import { handshake } from './helpers/clients.js'

let pki: TestPki
let v1: IssuedFiles
let v2: IssuedFiles
let sniV1: IssuedFiles
let sniV2: IssuedFiles
let up: TestUpstream
let gw: StartedGateway | undefined
let n = 0

beforeAll(async () => {
  pki = await createPki()
  ;[v1, v2, sniV1, sniV2] = await Promise.all([
    pki.issue('v1', { subject: '/CN=site.test/O=first', dns: ['site.test'] }),
    pki.issue('v2', { subject: '/CN=site.test/O=second', dns: ['site.test'] }),
    pki.issue('sni-v1', { subject: '/CN=api.example.com/O=first', dns: ['api.example.com'] }),
    pki.issue('sni-v2', { subject: '/CN=api.example.com/O=second', dns: ['api.example.com'] }),
  ])
  up = await startUpstream('a')
})
afterEach(async () => {
  await gw?.close()
  gw = undefined
})
afterAll(async () => {
  await up?.close()
  await pki?.cleanup()
})

const fingerprint = async (file: string) => new X509Certificate(await pki.read(file)).fingerprint256

/** A `live/` directory like certbot's, holding copies the test can overwrite. */
async function liveDir(): Promise<{ dir: string; cert: string; key: string; sniCert: string; sniKey: string }> {
  const dir = join(pki.dir, `live-${++n}`)
  await mkdir(dir)
  const files = { dir, cert: join(dir, 'fullchain.pem'), key: join(dir, 'privkey.pem'), sniCert: join(dir, 'api.pem'), sniKey: join(dir, 'api-key.pem') }
  await Promise.all([copyFile(v1.cert, files.cert), copyFile(v1.key, files.key), copyFile(sniV1.cert, files.sniCert), copyFile(sniV1.key, files.sniKey)])
  return files
}

function config(files: { cert: string; key: string; sniCert: string; sniKey: string }) {
  return simpleConfig([up.url], {
    top: {
      server: {
        host: '127.0.0.1',
        port: 0,
        tls: {
          port: 0,
          certificates: [
            { cert: files.cert, key: files.key },
            { cert: files.sniCert, key: files.sniKey, serverNames: ['api.example.com'] },
          ],
        },
      },
      admin: { host: '127.0.0.1', port: 0 },
    },
  })
}

const tlsPort = () => Number(new URL(gw!.httpsUrl!).port)
const served = async (servername?: string) => (await handshake(tlsPort(), servername ? { servername } : {})).cert.fingerprint256

async function rotations(result: 'applied' | 'rejected'): Promise<number> {
  const m = await gw!.metrics.registry.getSingleMetric('switchyard_tls_certificate_reloads_total')!.get()
  return m.values.find((v) => v.labels.result === result)?.value ?? 0
}

async function install(from: IssuedFiles, cert: string, key: string): Promise<void> {
  await copyFile(from.key, key)
  await copyFile(from.cert, cert)
}

describe('certificate rotation without restart', () => {
  it('serves renewed files written over the old ones within seconds (default and SNI certificates)', async () => {
    const live = await liveDir()
    gw = await startGateway(config(live))
    expect(await served()).toBe(await fingerprint(v1.cert))
    expect(await served('api.example.com')).toBe(await fingerprint(sniV1.cert))

    await install(v2, live.cert, live.key)
    await install(sniV2, live.sniCert, live.sniKey)
    const want = await fingerprint(v2.cert)
    const wantSni = await fingerprint(sniV2.cert)
    await waitFor(async () => (await served()) === want && (await served('api.example.com')) === wantSni, 5000, 50, 'the renewed certificates')
    expect(await rotations('applied')).toBeGreaterThanOrEqual(1)
    expect(gw.logs.some((l) => l.msg === 'certificates rotated from disk')).toBe(true)
  })

  it('keeps the old certificate serving when a file is not PEM, unreadable, or the key does not match, and reports it', async () => {
    const live = await liveDir()
    gw = await startGateway(config(live))
    const original = await fingerprint(v1.cert)

    await writeFile(live.cert, 'this is not a certificate\n')
    await waitFor(async () => (await rotations('rejected')) === 1, 5000, 50, 'the bad file to be rejected')
    expect(await served()).toBe(original)
    const report = gw.logs.find((l) => l.msg === 'certificate files changed but cannot be used; the previous certificates keep serving')!
    expect(report.level).toBe(50)
    expect(report.problems).toEqual([expect.stringMatching(/^server\.tls\.certificates\[0\]\.cert: not a PEM certificate/)])

    // A valid certificate with the wrong key: still rejected, still the old one served.
    await copyFile(v2.cert, live.cert)
    await waitFor(async () => (await rotations('rejected')) === 2, 5000, 50, 'the mismatched key to be rejected')
    expect(await served()).toBe(original)
    const mismatch = gw.logs.filter((l) => l.msg === 'certificate files changed but cannot be used; the previous certificates keep serving').at(-1)!
    expect(mismatch.problems).toEqual([expect.stringMatching(/^server\.tls\.certificates\[0\]\.key: does not match the certificate/)])

    // Fixing the files heals it without a restart.
    await copyFile(v2.key, live.key)
    const want = await fingerprint(v2.cert)
    await waitFor(async () => (await served()) === want, 5000, 50, 'the fixed pair to be served')

    // A key file that disappears (a half-finished deploy): rejected, the renewed pair stays.
    await rm(live.key)
    await waitFor(async () => (await rotations('rejected')) === 3, 5000, 50, 'the missing key to be reported')
    const missing = gw.logs.filter((l) => l.msg === 'certificate files changed but cannot be used; the previous certificates keep serving').at(-1)!
    expect(missing.problems).toEqual([`server.tls.certificates[0].key: cannot read ${live.key}: ENOENT`])
    expect(await served()).toBe(want)
  })

  it('a reload picks up new certificate paths at once', async () => {
    const live = await liveDir()
    gw = await startGateway(config(live))
    const result = await gw.reload(config({ cert: v2.cert, key: v2.key, sniCert: sniV2.cert, sniKey: sniV2.key }))
    expect(result.ok).toBe(true)
    expect(await served()).toBe(await fingerprint(v2.cert))
    expect(await served('api.example.com')).toBe(await fingerprint(sniV2.cert))
  })

  it('a reload naming unusable files is rejected with their config paths, and nothing changes', async () => {
    const live = await liveDir()
    gw = await startGateway(config(live))
    const bad = join(live.dir, 'garbage.pem')
    await writeFile(bad, 'garbage')
    const result = await gw.reload(config({ cert: bad, key: v2.key, sniCert: sniV2.cert, sniKey: v1.key }))
    expect(result.ok).toBe(false)
    expect(result.ok === false && result.problems).toEqual([
      expect.stringMatching(/^server\.tls\.certificates\[0\]\.cert: not a PEM certificate/),
      expect.stringMatching(/^server\.tls\.certificates\[1\]\.key: does not match the certificate in .*sni-v2\.pem$/),
    ])
    expect(gw.state.version).toBe(1)
    expect(await served()).toBe(await fingerprint(v1.cert))
  })
})
