/**
 * One attempt on one backend, the same for every caller that sends a request upstream (the
 * forward loop, mirrors): the lease was taken by the caller, the transport sends, failures are
 * classified once (upstream-errors.ts) and end the lease at once; a response keeps the lease
 * open until its body is done, so the in-flight count covers the whole exchange.
 */
import type { Readable } from 'node:stream'
import type { FailureKind, Lease } from '../upstream/types.js'
import type { Transport, TransportRequest, TransportResponse } from './transport.js'
import { classifyAttemptError, type AttemptFailure } from './upstream-errors.js'

export type AttemptResult =
  | { readonly ok: true; readonly response: TransportResponse; readonly ms: number }
  | { readonly ok: false; readonly failure: AttemptFailure; readonly ms: number }

/**
 * Send `request` on `lease`'s backend. On failure the lease is ended (a client that went away
 * or a client body over the limit is a cancel, not the backend's fault) and the failure
 * returned; on a response the lease stays open: end it with `endLeaseWhenDone` or `lease.end`.
 */
export async function runAttempt(
  transport: Transport,
  lease: Lease,
  request: TransportRequest,
  clientGone: () => boolean,
  timedOut?: () => boolean,
): Promise<AttemptResult> {
  const started = performance.now()
  try {
    const response = await transport.request(lease.backend, request)
    const status = response.statusCode
    // RFC 9110 §15: a status is three digits, 100–599. Anything else is a broken upstream, not
    // an answer to relay (and writing it to the client would throw): a bad response, 502.
    if (!(status >= 100 && status <= 599)) {
      response.body.on('error', () => {}).destroy()
      throw Object.assign(new Error(`upstream sent status ${status}`), { code: 'HPE_INVALID_STATUS' })
    }
    return { ok: true, response, ms: performance.now() - started }
  } catch (err) {
    const ms = performance.now() - started
    let failure = classifyAttemptError(err, clientGone())
    // Our own deadline (per try, or the route's total) aborted it: the backend was too slow.
    if (failure.kind === 'cancel' && !clientGone() && timedOut?.() === true) failure = { kind: 'timeout', error: failure.error }
    if (failure.kind === 'cancel' || failure.kind === 'client-body') lease.end('cancel', ms)
    else lease.end('failure', ms, failure.kind)
    return { ok: false, failure, ms }
  }
}

/**
 * End `lease` when `body` has been fully read or destroyed. The breaker outcome is decided by
 * the status (`outcome`), unless the body breaks midway on an answer that was a success: then
 * the backend failed after all (a reset mid-body), or the client went away (a cancel).
 */
export function endLeaseWhenDone(lease: Lease, body: Readable, outcome: 'success' | 'failure', ms: number, clientGone: () => boolean, onBodyFailure?: (kind: FailureKind) => void): void {
  // One 'close' listener (a body stream closes after its end, an error or a destroy) instead
  // of stream.finished's half-dozen: this runs once per proxied response.
  const done = (): void => {
    const err = body.errored ?? (body.readableEnded ? null : new Error('upstream body closed before its end'))
    if (err && outcome === 'success') {
      const f = classifyAttemptError(err, clientGone())
      if (f.kind === 'cancel' || f.kind === 'client-body') lease.end('cancel', ms)
      else {
        lease.end('failure', ms, f.kind as FailureKind)
        onBodyFailure?.(f.kind as FailureKind)
      }
    } else lease.end(outcome, ms, outcome === 'failure' ? 'status' : undefined)
  }
  if (body.closed) done()
  else body.once('close', done)
}
