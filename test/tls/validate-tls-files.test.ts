import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { TlsSettings } from '../../src/config/model.js'
import { validateTlsFiles } from '../../src/tls/certificates.js'
import { createPki, type IssuedFiles, type TestPki } from './helpers/pki.js'

let pki: TestPki
let a: IssuedFiles
let b: IssuedFiles

beforeAll(async () => {
  pki = await createPki()
  ;[a, b] = await Promise.all([
    pki.issue('a', { subject: '/CN=a.test', dns: ['a.test'] }),
    pki.issue('b', { subject: '/CN=api.example.com', dns: ['api.example.com', '*.example.com'] }),
  ])
})
afterAll(async () => {
  await pki?.cleanup()
})

function settings(certificates: { cert: string; key: string; serverNames?: string[] }[], extra: Partial<TlsSettings> = {}): TlsSettings {
  return {
    port: 8443,
    minVersion: 'TLSv1.2',
    http2: true,
    redirectHttp: false,
    requireClientCert: false,
    certificates: certificates.map((c) => ({ serverNames: [], ...c })),
    ...extra,
  }
}

describe('validateTlsFiles (switchyard check)', () => {
  it('finds nothing wrong with readable, matching PEM files, or without TLS at all', async () => {
    expect(await validateTlsFiles(undefined)).toEqual([])
    expect(await validateTlsFiles(settings([a, { ...b, serverNames: ['api.example.com', '*.example.com'] }], { clientCa: pki.ca.cert }))).toEqual([])
  })

  it('reports every unreadable, non-PEM or mismatched file with its configuration path', async () => {
    const notPem = join(pki.dir, 'not-pem.txt')
    await writeFile(notPem, 'hello')
    const missing = join(pki.dir, 'missing.pem')
    const problems = await validateTlsFiles(
      settings([{ cert: missing, key: a.key }, { cert: a.cert, key: notPem }, { cert: a.cert, key: b.key }], { clientCa: notPem }),
    )
    expect(problems).toEqual([
      { path: 'server.tls.certificates[0].cert', message: `cannot read ${missing}: ENOENT` },
      { path: 'server.tls.certificates[1].key', message: 'not a PEM private key (expected "-----BEGIN PRIVATE KEY-----")' },
      { path: 'server.tls.certificates[2].key', message: `does not match the certificate in ${a.cert}` },
      { path: 'server.tls.clientCa', message: 'not a PEM certificate bundle (expected "-----BEGIN CERTIFICATE-----")' },
    ])
  })

  it('reports a certificate in a key file, an encrypted key, and garbage inside PEM armour', async () => {
    const encrypted = join(pki.dir, 'encrypted-key.pem')
    await promisify(execFile)('openssl', ['pkcs8', '-topk8', '-in', a.key, '-out', encrypted, '-passout', 'pass:secret'])
    const armoured = join(pki.dir, 'armoured.pem')
    await writeFile(armoured, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n')
    const problems = await validateTlsFiles(settings([{ cert: a.cert, key: a.cert }, { cert: a.cert, key: encrypted }, { cert: armoured, key: a.key }]))
    expect(problems.map((p) => p.path)).toEqual(['server.tls.certificates[0].key', 'server.tls.certificates[1].key', 'server.tls.certificates[2].cert'])
    expect(problems[1]!.message).toMatch(/encrypted/)
    expect(problems[2]!.message).toMatch(/^cannot parse the certificate/)
  })

  it('reports an expired certificate and a server name the certificate does not cover', async () => {
    const later = Date.now() + 30 * 24 * 3600 * 1000
    const expired = await validateTlsFiles(settings([a]), later)
    expect(expired).toEqual([{ path: 'server.tls.certificates[0].cert', message: expect.stringMatching(/^certificate expired on \d{4}-/) }])
    const uncovered = await validateTlsFiles(settings([a, { ...b, serverNames: ['api.example.com', 'www.other.test', '*.other.test'] }]))
    expect(uncovered).toEqual([
      { path: 'server.tls.certificates[1].serverNames', message: "www.other.test is not covered by the certificate's names" },
      { path: 'server.tls.certificates[1].serverNames', message: "*.other.test is not covered by the certificate's names" },
    ])
  })
})
