/**
 * Where ACME state lives under `server.tls.acme.storage`: the account key, and the
 * certificate and key the TLS listener serves (named after the first domain). Shared by the
 * loader (which lists the certificate among the TLS certificates) and src/tls/acme.ts (which
 * writes them).
 */
import { join } from 'node:path'
import type { AcmeSettings } from './model.js'

export function acmeCertificateFiles(acme: Pick<AcmeSettings, 'storage' | 'domains'>): { readonly cert: string; readonly key: string; readonly account: string } {
  const name = (acme.domains[0] ?? 'certificate').replace(/[^a-z0-9.-]/g, '_')
  return { cert: join(acme.storage, `${name}.crt`), key: join(acme.storage, `${name}.key`), account: join(acme.storage, 'account.key') }
}
