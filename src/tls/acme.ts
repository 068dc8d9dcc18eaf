/**
 * Certificates over ACME (RFC 8555), `server.tls.acme`: obtained at start when none is stored
 * (or the stored one does not cover the domains, or expires within `renewBefore`), renewed
 * ahead of expiry, with exponential backoff after a failure.
 *
 * - HTTP-01 (RFC 8555 §8.3) is answered on the plain listener, before routing:
 *   `GET /.well-known/acme-challenge/<token>` gets the key authorisation while an order is
 *   pending, 404 otherwise. Nothing else on the plain listener is touched.
 * - Everything is stored under `storage` (created 0700): the account key (so restarts reuse the
 *   account), the certificate chain and its key (0600), each written to a temporary file and
 *   renamed, so a reader never sees half a file.
 * - The files are among the TLS listener's certificates (the loader lists them), so a renewed
 *   certificate is hot-swapped by the listener's own rotation path (`refresh()`, the same as a
 *   change on disk): a bad file never replaces a good certificate, and the expiry metric
 *   (`switchyard_tls_certificate_expiry_timestamp_seconds`) follows.
 *
 * The protocol itself (JWS, nonces, orders, authorizations, finalisation) is acme-client's.
 */
import type AcmeClient from 'acme-client'
import { lazyModule } from '../lazy-module.js'

const acmeClient = lazyModule<typeof AcmeClient>('acme-client')
import { X509Certificate } from 'node:crypto'
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import https from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import { acmeCertificateFiles } from '../config/acme-files.js'
import type { AcmeSettings } from '../config/model.js'

export const CHALLENGE_PREFIX = '/.well-known/acme-challenge/'
/** Backoff after a failed order: 1 min, doubling, at most 1 h (Let's Encrypt rate limits are per hour). */
export const ACME_BACKOFF_BASE_MS = 60_000
export const ACME_BACKOFF_MAX_MS = 3_600_000
/** Longest single timer (setTimeout holds at most 2^31-1 ms); the check simply runs again. */
const MAX_TIMER_MS = 24 * 3_600_000

/**
 * When to look again: at `notAfter - renewBefore` (now if that has passed); after `failures`
 * failed attempts in a row, after the backoff instead, whichever is later.
 */
export function nextRenewalDelay(notAfter: number, now: number, renewBefore: number, failures: number): number {
  const due = Math.max(0, notAfter - renewBefore - now)
  if (failures === 0) return Math.min(due, MAX_TIMER_MS)
  const backoff = Math.min(ACME_BACKOFF_MAX_MS, ACME_BACKOFF_BASE_MS * 2 ** (failures - 1))
  return Math.min(Math.max(due, backoff), MAX_TIMER_MS)
}

export interface AcmeCertificateState {
  readonly notAfter: number
  readonly serial: string
  readonly names: readonly string[]
}

/** What the stored certificate is, or undefined when there is none (or it cannot be read). */
export async function readStoredCertificate(settings: Pick<AcmeSettings, 'storage' | 'domains'>): Promise<AcmeCertificateState | undefined> {
  const files = acmeCertificateFiles(settings)
  try {
    const [pem] = await Promise.all([readFile(files.cert, 'utf8'), readFile(files.key)])
    const x = new X509Certificate(pem)
    const names = (x.subjectAltName ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4).toLowerCase())
    return { notAfter: Date.parse(x.validTo), serial: x.serialNumber, names }
  } catch {
    return undefined
  }
}

async function writePrivate(file: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, data, { mode })
  await chmod(tmp, mode)
  await rename(tmp, file)
}

export interface AcmeManagerOptions {
  readonly log: Logger
  readonly registry: Registry
  /** Called after a renewed certificate is on disk (the TLS listener's refresh). */
  readonly onCertificate?: () => Promise<unknown> | void
  readonly now?: () => number
}

export interface AcmeManager {
  /** Answers HTTP-01 challenge requests; false for every other request. */
  answerChallenge(req: IncomingMessage, res: ServerResponse): boolean
  /** The stored certificate covers every domain and is not due for renewal. */
  hasUsableCertificate(): Promise<boolean>
  /** Obtain a certificate now (an order, HTTP-01, finalisation) and store it. */
  renewNow(): Promise<AcmeCertificateState>
  /** Set the callback run after a renewal (the TLS listener's refresh). */
  onCertificate(cb: () => Promise<unknown> | void): void
  /** Schedule renewals from the stored certificate's expiry. */
  start(): void
  close(): void
}

export function createAcmeManager(settings: AcmeSettings, opts: AcmeManagerOptions): AcmeManager {
  const log = opts.log
  const now = opts.now ?? Date.now
  const files = acmeCertificateFiles(settings)
  const pending = new Map<string, string>()
  let onCertificate = opts.onCertificate
  let timer: NodeJS.Timeout | undefined
  let failures = 0
  let closed = false
  let running: Promise<AcmeCertificateState> | undefined
  let httpsAgent: https.Agent | undefined

  const orders = new Counter({
    name: 'switchyard_acme_orders_total',
    help: 'ACME certificate orders by result: issued, or failed (retried with backoff)',
    labelNames: ['result'] as const,
    registers: [opts.registry],
  })
  const nextRenewal = new Gauge({
    name: 'switchyard_acme_next_renewal_timestamp_seconds',
    help: 'When the ACME certificate is next checked for renewal (Unix seconds)',
    registers: [opts.registry],
  })

  async function accountKey(): Promise<Buffer> {
    try {
      return await readFile(files.account)
    } catch {
      const key = await acmeClient().crypto.createPrivateEcdsaKey()
      await writePrivate(files.account, key, 0o600)
      return key
    }
  }

  async function obtain(): Promise<AcmeCertificateState> {
    await mkdir(settings.storage, { recursive: true, mode: 0o700 })
    await chmod(settings.storage, 0o700)
    if (settings.ca !== undefined && httpsAgent === undefined) {
      httpsAgent = new https.Agent({ ca: await readFile(settings.ca) })
      // acme-client sends through its own axios instance: the directory's trust is set there.
      acmeClient().axios.defaults.httpsAgent = httpsAgent
    }
    const client = new (acmeClient().Client)({ directoryUrl: settings.directory, accountKey: await accountKey() })
    const [key, csr] = await acmeClient().crypto.createCsr({ commonName: settings.domains[0]!, altNames: [...settings.domains] }, await acmeClient().crypto.createPrivateEcdsaKey())
    const chain = await client.auto({
      csr,
      email: settings.email,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // acme-client's own pre-check fetches http://<domain>/ from here, which a gateway behind
      // NAT or a load balancer cannot always reach; the CA's validation is the one that counts.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        pending.set(challenge.token, keyAuthorization)
      },
      challengeRemoveFn: async (_authz, challenge) => {
        pending.delete(challenge.token)
      },
    })
    // Key first: a certificate never sits next to a key it does not belong to for longer than a rename.
    await writePrivate(files.key, key, 0o600)
    await writePrivate(files.cert, chain, 0o600)
    const x = new X509Certificate(chain)
    return { notAfter: Date.parse(x.validTo), serial: x.serialNumber, names: [...settings.domains] }
  }

  function covers(state: AcmeCertificateState): boolean {
    return settings.domains.every((d) => state.names.includes(d))
  }

  async function renewNow(): Promise<AcmeCertificateState> {
    if (running !== undefined) return running
    running = (async () => {
      try {
        const state = await obtain()
        failures = 0
        orders.inc({ result: 'issued' })
        log.info({ type: 'acme', domains: settings.domains, serial: state.serial, notAfter: new Date(state.notAfter).toISOString() }, 'ACME certificate issued')
        await onCertificate?.()
        return state
      } catch (err) {
        failures++
        orders.inc({ result: 'failed' })
        log.error({ type: 'acme', domains: settings.domains, failures, err: (err as Error).message }, 'ACME order failed; the current certificate keeps serving')
        throw err
      } finally {
        running = undefined
      }
    })()
    return running
  }

  async function check(): Promise<void> {
    if (closed) return
    const state = await readStoredCertificate(settings)
    if (state === undefined || !covers(state) || state.notAfter - settings.renewBefore <= now()) {
      await renewNow().catch(() => {})
    }
    schedule()
  }

  async function schedule(): Promise<void> {
    if (closed) return
    const state = await readStoredCertificate(settings)
    const delay = nextRenewalDelay(state?.notAfter ?? now(), now(), settings.renewBefore, failures)
    nextRenewal.set(Math.floor((now() + delay) / 1000))
    clearTimeout(timer)
    timer = setTimeout(() => void check(), delay)
    timer.unref()
  }

  return {
    answerChallenge(req, res) {
      const url = req.url
      if (url === undefined || !url.startsWith(CHALLENGE_PREFIX)) return false
      const keyAuthorization = pending.get(url.slice(CHALLENGE_PREFIX.length))
      if (keyAuthorization === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' })
        res.end('no such challenge')
      } else {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(keyAuthorization) })
        res.end(keyAuthorization)
      }
      return true
    },
    async hasUsableCertificate() {
      const state = await readStoredCertificate(settings)
      return state !== undefined && covers(state) && state.notAfter - settings.renewBefore > now()
    },
    renewNow,
    onCertificate(cb) {
      onCertificate = cb
    },
    start() {
      void schedule()
    },
    close() {
      closed = true
      clearTimeout(timer)
    },
  }
}

/** Wrap the plain listener's server factory so HTTP-01 challenges are answered before anything else (redirects included). */
export function withAcmeChallenges(inner: import('../net/server-factory.js').ServerFactory, manager: Pick<AcmeManager, 'answerChallenge'>): import('../net/server-factory.js').ServerFactory {
  return (handler, opts) =>
    inner(((req: IncomingMessage, res: ServerResponse) => {
      if (!manager.answerChallenge(req, res)) handler(req, res)
    }) as typeof handler, opts)
}
