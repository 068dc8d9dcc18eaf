/**
 * Typed errors of TLS termination. None of them reaches a client: they are raised while loading
 * certificate files (startup, reload, rotation) and carry every problem found, each with the
 * configuration path it belongs to, so `switchyard check`, a rejected reload and the rotation
 * log all say the same thing.
 */
import { createError } from '../error-registry.js'

/** One thing wrong with a TLS file, located by its configuration path. */
export interface TlsFileProblem {
  readonly path: string
  readonly message: string
}

const BaseCertificateError = createError<'SWITCHYARD_TLS_CERTIFICATE', [string]>('SWITCHYARD_TLS_CERTIFICATE', 'unusable TLS files: %s', 500)

/** The certificate set could not be built; `problems` lists every file at fault. */
export class TlsCertificateError extends BaseCertificateError {
  readonly problems: readonly TlsFileProblem[]
  constructor(problems: readonly TlsFileProblem[]) {
    super(problems.map((p) => `${p.path}: ${p.message}`).join('; '))
    this.problems = problems
  }
}
