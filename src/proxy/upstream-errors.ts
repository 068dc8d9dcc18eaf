/**
 * One mapping from low-level client errors (undici, sockets, TLS) to what the gateway does
 * with them: the failure kind that drives breakers and retries, and the typed error the client
 * sees. reply-from maps most of these to 500; a gateway answers 502, or 504 for timeouts.
 */
import {
  ERR_CLIENT_CLOSED,
  ERR_UPSTREAM_BAD_RESPONSE,
  ERR_UPSTREAM_CONNECT,
  ERR_UPSTREAM_RESET,
  ERR_UPSTREAM_TIMEOUT,
  ERR_UPSTREAM_TLS,
} from '../errors.js'
import type { FailureKind } from '../upstream/types.js'

export type AttemptFailure =
  | { readonly kind: FailureKind; readonly tls?: boolean; readonly error: Error }
  | { readonly kind: 'cancel'; readonly error: Error }
  | { readonly kind: 'client-body'; readonly error: Error }

const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT'])
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED'])
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])

function codeOf(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } }
  if (typeof e?.code === 'string' && e.code !== 'UND_ERR_SOCKET' && e.code !== 'UND_ERR_CONNECT') return e.code
  if (typeof e?.cause?.code === 'string') return e.cause.code
  return typeof e?.code === 'string' ? e.code : ''
}

export function classifyAttemptError(err: unknown, clientAborted: boolean): AttemptFailure {
  const error = err instanceof Error ? err : new Error(String(err))
  const code = codeOf(err)
  if ((error as { code?: string }).code === 'SWITCHYARD_BODY_TOO_LARGE' || code === 'SWITCHYARD_BODY_TOO_LARGE') return { kind: 'client-body', error }
  if (clientAborted || code === 'UND_ERR_ABORTED' || error.name === 'AbortError') return { kind: 'cancel', error }
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code.startsWith('ERR_SSL')) {
    return { kind: 'connect-error', tls: true, error }
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { kind: 'connect-error', error }
  if (CONNECT_CODES.has(code)) return { kind: 'connect-error', error }
  if (TIMEOUT_CODES.has(code)) return { kind: 'timeout', error }
  if (RESET_CODES.has(code)) return { kind: 'reset', error }
  if (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return { kind: 'reset', error }
  return { kind: 'reset', error }
}

/** The client-facing error for a failed attempt (the cause is kept for logs, never sent). */
export function gatewayErrorFor(f: AttemptFailure): Error {
  let e: Error
  if (f.kind === 'client-body') return f.error
  if (f.kind === 'timeout') e = new ERR_UPSTREAM_TIMEOUT()
  else if (f.kind === 'connect-error') {
    const code = codeOf(f.error)
    e = 'tls' in f && f.tls ? new ERR_UPSTREAM_TLS() : code === 'UND_ERR_CONNECT_TIMEOUT' ? new ERR_UPSTREAM_TIMEOUT() : new ERR_UPSTREAM_CONNECT()
  } else if (f.kind === 'reset') e = codeOf(f.error).startsWith('HPE_') ? new ERR_UPSTREAM_BAD_RESPONSE() : new ERR_UPSTREAM_RESET()
  // The client went away (our own deadlines are classified as timeouts before this): nobody
  // waits for an answer, and it is not the upstream's failure: 499, not a 502 logged as one.
  else e = new ERR_CLIENT_CLOSED()
  e.cause = f.error
  return e
}
