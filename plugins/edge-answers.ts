/**
 * Answers a listener gives before any Fastify hook runs, in the gateway's one JSON error shape
 * and counted and logged like every other answer (plugins/access-log.ts):
 *
 * - parser-level refusals (malformed or smuggling-shaped requests 400, header blocks too large
 *   431, too slow 408): src/gateway.ts clientErrorHandler writes them to the socket;
 * - a request target with a malformed percent-escape (`/api/%zz`): Fastify's router cannot
 *   decode it and, left alone, answers with its own body (`FST_ERR_BAD_URL`) that skips every
 *   hook. `frameworkErrors` gives that answer back to us: 400 `SWITCHYARD_BAD_PATH`, as the
 *   gateway's own path normalisation answers other malformed targets (docs/routing.md).
 *
 * Also the client connections each listener accepts and holds.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { Server, Socket } from 'node:net'
import type { GatewayHandle } from '../src/gateway-handle.js'
import { errorBody } from '../src/errors.js'
import type { GatewayMetrics } from '../src/metrics.js'
import { answerRecorder } from './access-log.js'

const PARSER_CODES: Readonly<Record<number, string>> = {
  400: 'SWITCHYARD_BAD_REQUEST',
  408: 'SWITCHYARD_REQUEST_TIMEOUT',
  431: 'SWITCHYARD_HEADERS_TOO_LARGE',
}

/** Fastify options of a data plane that route its framework-level answers through the recorder. */
export function observedAnswers(
  gw: GatewayHandle,
  answerParserError: (err: NodeJS.ErrnoException, socket: Socket) => number | undefined,
): {
  clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => void
  frameworkErrors: (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => void
} {
  return {
    clientErrorHandler(err, socket) {
      const status = answerParserError(err, socket)
      if (status !== undefined) answerRecorder(gw)?.refusal(socket, status, PARSER_CODES[status] ?? 'SWITCHYARD_BAD_REQUEST')
    },
    frameworkErrors(err, request, reply) {
      // FST_ERR_BAD_URL: the only one a catch-all route without constraints or params can meet;
      // anything else Fastify refuses at this stage is a bad request too.
      const [code, message] =
        err.code === 'FST_ERR_BAD_URL' ? ['SWITCHYARD_BAD_PATH', 'Bad request target: malformed percent-escape'] : ['SWITCHYARD_BAD_REQUEST', 'malformed request target']
      reply.raw.once('finish', () => answerRecorder(gw)?.request(request, reply.raw, 400, code))
      void reply.code(400).type('application/json; charset=utf-8').send(errorBody(400, message, code))
    },
  }
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
