/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): the client asks whether the gateway wants the body
 * before sending it. Node answers `100 Continue` itself, before any handler runs, unless the
 * server has a 'checkContinue' listener; then it is up to us. The gateway defers it until the
 * request has passed every check that could refuse it (declared size, Host, framing, route,
 * JWT, rate limit): a request refused with 413, 401 or 429 gets its final status and never a
 * `100 Continue` first, so the client never sends a body nobody will read. Node then closes
 * the connection after that final answer (the client may still put the body on the wire).
 *
 * The 100 is written when the proxy is about to read the body (`continueIfExpected`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

const kExpectsContinue = Symbol('switchyard.expectsContinue')

type Marked = IncomingMessage & { [kExpectsContinue]?: boolean }

interface ContinueServer {
  on(event: 'checkContinue', listener: (req: IncomingMessage, res: ServerResponse) => void): unknown
}

/** Route `checkContinue` to `handler` without the automatic 100; the proxy sends it later. */
export function deferContinue(server: ContinueServer, handler: (req: IncomingMessage, res: ServerResponse) => void): void {
  server.on('checkContinue', (req, res) => {
    ;(req as Marked)[kExpectsContinue] = true
    handler(req, res)
  })
}

/** Write the deferred `100 Continue`, once, if this request asked for it. */
export function continueIfExpected(req: IncomingMessage, res: { writeContinue(): void; headersSent: boolean }): void {
  const m = req as Marked
  if (m[kExpectsContinue] !== true) return
  m[kExpectsContinue] = false
  if (!res.headersSent) res.writeContinue()
}
