/**
 * Server certificates for TLS termination: read the PEM files, check them (PEM, parseable,
 * key matches certificate), and build the secure contexts the listener serves: the default
 * certificate (the first one; also for clients that send no SNI) and an SNI table over the
 * others' `serverNames`.
 *
 * Everything here runs at startup, reload and rotation, never per request or per handshake:
 * a handshake only does one SNI lookup into the compiled table.
 */
import { existsSync } from 'node:fs'
import { acmeCertificateFiles } from '../config/acme-files.js'
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import tls, { type SecureContext, type SecureContextOptions } from 'node:tls'
import type { TlsSettings } from '../config/model.js'
import { TlsCertificateError, type TlsFileProblem } from './errors.js'
import { compileSniTable, type SniLookup } from './sni.js'

/**
 * The default cipher list: Mozilla's "intermediate" profile (server-side TLS guidelines, v5.7),
 * minus the finite-field DHE suites (they need a dhparam file and add nothing for clients that
 * speak ECDHE). Forward secrecy and AEAD only: no CBC, no RSA key exchange, no SHA-1 MACs.
 * The TLS 1.3 suites are listed too, so the list is the whole policy in one place.
 */
export const DEFAULT_CIPHERS = [
  // TLS 1.3 (RFC 8446 §B.4)
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  // TLS 1.2: ECDHE + AEAD
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':')

/** Where each file of the settings sits in the configuration, for problem messages. */
const CERTS_PATH = 'server.tls.certificates'
const CLIENT_CA_PATH = 'server.tls.clientCa'

const PEM_CERTIFICATE = '-----BEGIN CERTIFICATE-----'
const PEM_PRIVATE_KEY = /-----BEGIN (?:(RSA|EC|DSA|ENCRYPTED) )?PRIVATE KEY-----/

export interface LoadedCertificate {
  /** Position in `server.tls.certificates` (0 = the default). */
  readonly index: number
  readonly certFile: string
  readonly keyFile: string
  readonly serverNames: readonly string[]
  readonly subject: string
  readonly validTo: Date
  /** SHA-256 of the leaf, `AB:CD:…` as `openssl x509 -fingerprint -sha256` prints it. */
  readonly fingerprint256: string
}

export interface CertificateSet {
  readonly certificates: readonly LoadedCertificate[]
  /** Options for `tls.Server#setSecureContext`: the default certificate under the shared policy. */
  readonly defaultContextOptions: SecureContextOptions
  /** SNI table; undefined means "the default certificate". */
  readonly select: SniLookup<SecureContext>
  /** Digest of every file's bytes and the policy: equal digests serve the same thing. */
  readonly digest: string
  /** Usable but worth a log line: expiry, server names the certificate does not cover. */
  readonly warnings: readonly TlsFileProblem[]
}

/** The bytes of every file the settings name, plus what could not be read. */
export interface TlsFiles {
  readonly certs: readonly (Buffer | undefined)[]
  readonly keys: readonly (Buffer | undefined)[]
  readonly clientCa: Buffer | undefined
  readonly problems: readonly TlsFileProblem[]
  readonly digest: string
}

/** The handshake policy shared by every certificate: protocol floor, ciphers, client CA. */
export function contextPolicy(settings: TlsSettings, clientCa: Buffer | undefined): SecureContextOptions {
  return {
    minVersion: settings.minVersion,
    ciphers: DEFAULT_CIPHERS,
    // All listed suites are strong; letting the client choose lets devices without AES
    // hardware pick ChaCha20 (Mozilla intermediate: server preference off).
    honorCipherOrder: false,
    ...(clientCa !== undefined ? { ca: clientCa } : {}),
  }
}

/** Read every file named by the settings (async); unreadable ones become problems. */
export async function readTlsFiles(settings: TlsSettings): Promise<TlsFiles> {
  const problems: TlsFileProblem[] = []
  const read = async (file: string, path: string): Promise<Buffer | undefined> => {
    try {
      return await readFile(file)
    } catch (err) {
      problems.push({ path, message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` })
      return undefined
    }
  }
  const [certs, keys, clientCa] = await Promise.all([
    Promise.all(settings.certificates.map((c, i) => read(c.cert, `${CERTS_PATH}[${i}].cert`))),
    Promise.all(settings.certificates.map((c, i) => read(c.key, `${CERTS_PATH}[${i}].key`))),
    settings.clientCa !== undefined ? read(settings.clientCa, CLIENT_CA_PATH) : Promise.resolve(undefined),
  ])
  const hash = createHash('sha256')
  hash.update(`${settings.minVersion}\0${DEFAULT_CIPHERS}\0`)
  settings.certificates.forEach((c, i) => {
    hash.update(`${c.serverNames.join(',')}\0`)
    hash.update(certs[i] ?? '\0missing\0')
    hash.update(keys[i] ?? '\0missing\0')
  })
  hash.update(clientCa ?? '\0none\0')
  return { certs, keys, clientCa, problems, digest: hash.digest('hex') }
}

interface CheckedPair {
  readonly x509: X509Certificate
  readonly key: KeyObject
}

/** PEM, parseable, key matching: every problem of one certificate/key pair. */
function checkPair(cert: Buffer | undefined, key: Buffer | undefined, certFile: string, index: number, problems: TlsFileProblem[]): CheckedPair | undefined {
  const at = `${CERTS_PATH}[${index}]`
  let x509: X509Certificate | undefined
  let privateKey: KeyObject | undefined
  if (cert !== undefined) {
    if (!cert.includes(PEM_CERTIFICATE)) problems.push({ path: `${at}.cert`, message: 'not a PEM certificate (expected "-----BEGIN CERTIFICATE-----")' })
    else {
      try {
        x509 = new X509Certificate(cert)
      } catch (err) {
        problems.push({ path: `${at}.cert`, message: `cannot parse the certificate: ${(err as Error).message}` })
      }
    }
  }
  if (key !== undefined) {
    const text = key.toString('latin1')
    const m = PEM_PRIVATE_KEY.exec(text)
    if (m === null) problems.push({ path: `${at}.key`, message: 'not a PEM private key (expected "-----BEGIN PRIVATE KEY-----")' })
    else if (m[1] === 'ENCRYPTED') problems.push({ path: `${at}.key`, message: 'the private key is encrypted; give the gateway an unencrypted key file readable only by it' })
    else {
      try {
        privateKey = createPrivateKey(key)
      } catch (err) {
        problems.push({ path: `${at}.key`, message: `cannot parse the private key: ${(err as Error).message}` })
      }
    }
  }
  if (x509 === undefined || privateKey === undefined) return undefined
  if (!x509.checkPrivateKey(privateKey)) {
    problems.push({ path: `${at}.key`, message: `does not match the certificate in ${certFile}` })
    return undefined
  }
  return { x509, key: privateKey }
}

function checkClientCa(ca: Buffer | undefined, problems: TlsFileProblem[]): void {
  if (ca === undefined) return
  if (!ca.includes(PEM_CERTIFICATE)) {
    problems.push({ path: CLIENT_CA_PATH, message: 'not a PEM certificate bundle (expected "-----BEGIN CERTIFICATE-----")' })
    return
  }
  try {
    new X509Certificate(ca)
  } catch (err) {
    problems.push({ path: CLIENT_CA_PATH, message: `cannot parse the CA certificate: ${(err as Error).message}` })
  }
}

/** Things that do not stop a certificate from serving but that an operator should hear about. */
function pairWarnings(x509: X509Certificate, serverNames: readonly string[], index: number, now: number): TlsFileProblem[] {
  const out: TlsFileProblem[] = []
  const at = `${CERTS_PATH}[${index}]`
  const validTo = new Date(x509.validTo)
  const validFrom = new Date(x509.validFrom)
  if (validTo.getTime() < now) out.push({ path: `${at}.cert`, message: `certificate expired on ${validTo.toISOString()}` })
  else if (validFrom.getTime() > now) out.push({ path: `${at}.cert`, message: `certificate is not valid before ${validFrom.toISOString()}` })
  for (const name of serverNames) {
    // A wildcard server name is covered when a name it stands for is.
    const probe = name.startsWith('*.') ? `sni-probe${name.slice(1)}` : name
    if (x509.checkHost(probe) === undefined) out.push({ path: `${at}.serverNames`, message: `${name} is not covered by the certificate's names` })
  }
  return out
}

/** Check the files and compile the contexts; throws TlsCertificateError listing every problem. */
export function buildCertificateSet(settings: TlsSettings, files: TlsFiles, now = Date.now()): CertificateSet {
  const problems: TlsFileProblem[] = [...files.problems]
  if (settings.certificates.length === 0) problems.push({ path: CERTS_PATH, message: 'at least one certificate is needed' })
  const pairs = settings.certificates.map((c, i) => checkPair(files.certs[i], files.keys[i], c.cert, i, problems))
  checkClientCa(files.clientCa, problems)
  if (problems.length > 0) throw new TlsCertificateError(problems)

  const policy = contextPolicy(settings, files.clientCa)
  const certificates: LoadedCertificate[] = []
  const warnings: TlsFileProblem[] = []
  const entries: { names: readonly string[]; value: SecureContext }[] = []
  let defaultContextOptions: SecureContextOptions | undefined
  settings.certificates.forEach((c, i) => {
    const { x509 } = pairs[i]!
    const options: SecureContextOptions = { ...policy, cert: files.certs[i]!, key: files.keys[i]! }
    try {
      const context = tls.createSecureContext(options)
      if (c.serverNames.length > 0) entries.push({ names: c.serverNames, value: context })
    } catch (err) {
      problems.push({ path: `${CERTS_PATH}[${i}]`, message: `cannot be used: ${(err as Error).message}` })
      return
    }
    if (i === 0) defaultContextOptions = options
    warnings.push(...pairWarnings(x509, c.serverNames, i, now))
    certificates.push({
      index: i,
      certFile: c.cert,
      keyFile: c.key,
      serverNames: c.serverNames,
      subject: x509.subject,
      validTo: new Date(x509.validTo),
      fingerprint256: x509.fingerprint256,
    })
  })
  if (problems.length > 0) throw new TlsCertificateError(problems)
  return { certificates, defaultContextOptions: defaultContextOptions!, select: compileSniTable(entries), digest: files.digest, warnings }
}

/** Read and build in one step (startup). */
export async function loadCertificateSet(settings: TlsSettings): Promise<CertificateSet> {
  return buildCertificateSet(settings, await readTlsFiles(settings))
}

/**
 * For `switchyard check`: every problem with the TLS files of `server.tls`, located by
 * configuration path (`server.tls.certificates[1].key: does not match …`). Unreadable files,
 * not PEM, unparseable, key/certificate mismatch, an expired or not-yet-valid certificate, a
 * server name the certificate does not cover.
 * Empty when `settings` is undefined (no TLS) or everything is usable.
 */
export async function validateTlsFiles(settings: TlsSettings | undefined, now = Date.now()): Promise<TlsFileProblem[]> {
  if (settings === undefined) return []
  if (settings.acme !== undefined) {
    // Not obtained yet is not a problem: the gateway orders it at start (src/tls/acme.ts).
    const acmeCert = acmeCertificateFiles(settings.acme).cert
    if (!existsSync(acmeCert)) settings = { ...settings, certificates: settings.certificates.filter((c) => c.cert !== acmeCert) }
    if (settings.certificates.length === 0) return []
  }
  const files = await readTlsFiles(settings)
  try {
    // Expiry and uncovered names make clients refuse the handshake: problems for `check`,
    // warnings for a running gateway (which keeps serving what it has).
    return [...buildCertificateSet(settings, files, now).warnings]
  } catch (err) {
    if (err instanceof TlsCertificateError) return [...err.problems]
    throw err
  }
}
