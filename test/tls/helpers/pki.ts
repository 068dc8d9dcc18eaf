/**
 * A throw-away PKI for TLS tests, made with the `openssl` CLI at test time in a temp directory
 * (never committed): a CA, leaf certificates signed by it, and helpers to read them. EC P-256
 * keys keep generation fast.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface IssuedFiles {
  readonly cert: string
  readonly key: string
}

export interface LeafOptions {
  /** openssl -subj form, e.g. "/CN=api.example.com" or "/O=Acme/CN=client-1". */
  readonly subject: string
  readonly dns?: readonly string[]
  readonly ips?: readonly string[]
  /** clientAuth instead of serverAuth. */
  readonly client?: boolean
  /** Issue with this CA instead of the PKI's own. */
  readonly ca?: Ca
}

export interface Ca extends IssuedFiles {
  readonly pem: string
}

export interface TestPki {
  readonly dir: string
  readonly ca: Ca
  /** A second CA nobody trusts. */
  newCa(name: string, subject: string): Promise<Ca>
  issue(name: string, opts: LeafOptions): Promise<IssuedFiles>
  read(file: string): Promise<string>
  cleanup(): Promise<void>
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd })
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string }
    if (e.code === 'ENOENT') {
      throw new Error(
        'the TLS tests need the `openssl` command-line tool to generate test certificates, and it was not found on PATH. ' +
          'Install it (Debian/Ubuntu: apt-get install openssl; .ci/run does this in CI).',
        { cause: err },
      )
    }
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err })
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

export async function createPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-tls-'))

  async function newCa(name: string, subject: string): Promise<Ca> {
    const cert = join(dir, `${name}.pem`)
    const key = join(dir, `${name}-key.pem`)
    await openssl(
      ['req', '-x509', ...EC_KEY, '-keyout', key, '-out', cert, '-days', '2', '-subj', subject,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
      dir,
    )
    return { cert, key, pem: await readFile(cert, 'utf8') }
  }

  const ca = await newCa('ca', '/CN=Switchyard Test CA')

  async function issue(name: string, opts: LeafOptions): Promise<IssuedFiles> {
    const issuer = opts.ca ?? ca
    const cert = join(dir, `${name}.pem`)
    const key = join(dir, `${name}-key.pem`)
    const csr = join(dir, `${name}.csr`)
    const ext = join(dir, `${name}.ext`)
    const san = [...(opts.dns ?? []).map((d) => `DNS:${d}`), ...(opts.ips ?? []).map((i) => `IP:${i}`)]
    await writeFile(
      ext,
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature',
        `extendedKeyUsage=${opts.client ? 'clientAuth' : 'serverAuth'}`,
        ...(san.length > 0 ? [`subjectAltName=${san.join(',')}`] : []),
      ].join('\n'),
    )
    await openssl(['req', '-new', ...EC_KEY, '-keyout', key, '-out', csr, '-subj', opts.subject], dir)
    await openssl(
      ['x509', '-req', '-in', csr, '-CA', issuer.cert, '-CAkey', issuer.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
        '-days', '2', '-out', cert, '-extfile', ext],
      dir,
    )
    return { cert, key }
  }

  return {
    dir,
    ca,
    newCa,
    issue,
    read: (file) => readFile(file, 'utf8'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
}
