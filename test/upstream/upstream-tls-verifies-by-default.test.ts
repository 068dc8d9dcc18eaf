import { undiciPoolOf } from '../../src/proxy/transports/undici-http1.js'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createPoolRegistry, type UpstreamPoolRegistry } from '../../src/upstream/index.js'
import type { PoolSettings } from '../../src/config/model.js'
import { poolSettings } from './helpers.js'

let dir: string
let server: https.Server
let origin: string
let registry: UpstreamPoolRegistry | undefined

/** A private CA and a server certificate for users.internal signed by it (no IP SAN). */
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sy-tls-'))
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
  }
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Switchyard Test CA')
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'req.csr', '-subj', '/CN=users.internal')
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:users.internal\n')
  ssl('x509', '-req', '-in', 'req.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'cert.pem', '-days', '2', '-extfile', 'ext.cnf')
  server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('secure')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterEach(async () => {
  await registry?.close()
  registry = undefined
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((r) => server.close(() => r()))
  rmSync(dir, { recursive: true, force: true })
})

async function get(tls: PoolSettings['tls']): Promise<string> {
  registry = createPoolRegistry([poolSettings({ name: 'secure', backends: [{ url: origin, weight: 1 }], ...(tls ? { tls } : {}) })])
  const b = registry.get('secure')!.backends[0]!
  try {
    const res = await undiciPoolOf(b).request({ origin: b.origin, path: '/', method: 'GET' })
    return await res.body.text()
  } catch (err) {
    return `error: ${(err as { code?: string }).code}`
  }
}

describe('TLS to https backends', () => {
  it('verifies the certificate by default (a private CA is not trusted)', async () => {
    expect(await get(undefined)).toMatch(/^error: (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/)
  })

  it('trusts the pool tls.ca and checks the name given as servername', async () => {
    expect(await get({ ca: join(dir, 'ca.pem'), servername: 'users.internal', rejectUnauthorized: true })).toBe('secure')
  })

  it('still rejects a certificate whose name does not match', async () => {
    expect(await get({ ca: join(dir, 'ca.pem'), servername: 'other.internal', rejectUnauthorized: true })).toBe('error: ERR_TLS_CERT_ALTNAME_INVALID')
  })

  it('skips verification only when rejectUnauthorized is explicitly false', async () => {
    expect(await get({ rejectUnauthorized: false })).toBe('secure')
  })
})
