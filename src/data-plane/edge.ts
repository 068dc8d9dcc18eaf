/**
 * What a data listener does at the connection level, before any request exists:
 *
 * - parser-level refusals (malformed or smuggling-shaped requests 400, header blocks too large
 *   431, too slow 408): answered on the socket in the gateway's one JSON error shape, then
 *   counted and logged like every other answer (src/data-plane/recorder.ts);
 * - the client connections each listener accepts and holds.
 */
import type { Server, Socket } from 'node:net'
import { rawErrorResponse } from '../errors.js'
import type { GatewayMetrics } from '../metrics.js'
import { answerAndClose, guardSocket } from '../net/edge-socket.js'
import type { AnswerRecorder } from './recorder.js'

const PARSER_CODES: Readonly<Record<number, string>> = {
  400: 'SWITCHYARD_BAD_REQUEST',
  408: 'SWITCHYARD_REQUEST_TIMEOUT',
  431: 'SWITCHYARD_HEADERS_TOO_LARGE',
}

/**
 * Parser-level rejections (malformed, smuggling, oversized headers, slow headers) as JSON, then
 * close. Returns the status answered (undefined when nothing was sent), for the caller to count.
 */
export function answerParserError(err: NodeJS.ErrnoException, socket: Socket): number | undefined {
  guardSocket(socket)
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return undefined
  }
  // A request on this connection is still being answered and was received whole: the error
  // is in what came after it (pipelining, or bytes after `Connection: close`). An error answer
  // now would land before or inside that response; let it finish, then close without one.
  // (A request whose own body broke is not complete: it gets the 400 at once.)
  const inFlight = (socket as Socket & { _httpMessage?: (NodeJS.WritableStream & { writableFinished?: boolean; headersSent?: boolean; req?: { complete?: boolean } }) | null })._httpMessage
  if (inFlight && (inFlight.headersSent === true || inFlight.req?.complete === true)) {
    if (inFlight.writableFinished) socket.destroy()
    else {
      inFlight.once('finish', () => socket.destroySoon())
      inFlight.once('close', () => socket.destroySoon())
    }
    return undefined
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
  answerAndClose(socket, rawErrorResponse(status, status === 431 ? 'request header fields too large' : status === 408 ? 'request timed out' : 'malformed request'))
  return status
}

/** Answer and record `server`'s parser-level refusals (its 'clientError' events). */
export function observeParserRefusals(server: Pick<Server, 'on'>, recorder: AnswerRecorder): void {
  server.on('clientError' as 'error', ((err: NodeJS.ErrnoException, socket: Socket) => {
    const status = answerParserError(err, socket)
    if (status !== undefined) recorder.refusal(socket, status, PARSER_CODES[status] ?? 'SWITCHYARD_BAD_REQUEST')
  }) as (err: Error) => void)
}

/** Count the client connections `server` accepts and holds, as `listener` (http, https). */
export function countConnections(server: Pick<Server, 'on'>, listener: string, metrics: GatewayMetrics): void {
  const accepted = metrics.connections.labels(listener)
  const open = metrics.openConnections.labels(listener)
  open.set(0)
  server.on('connection', (socket: Socket) => {
    accepted.inc()
    open.inc()
    socket.once('close', () => open.dec())
  })
}
