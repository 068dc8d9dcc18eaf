/**
 * Sockets the gateway handles outside Fastify's request cycle: CONNECT tunnels it refuses,
 * upgrades, parser rejections. Node hands these over with its own 'error' listener removed
 * (for `connect` and `upgrade`, http's server detaches it before emitting), so a peer reset
 * on such a socket is an unhandled 'error' event, and an unhandled 'error' kills the process.
 * No peer action may do that: every socket that passes through here gets a handler first.
 *
 * An error answer also must not hold the connection slot for as long as the client likes:
 * `end()` only half-closes, and a client that neither reads nor closes keeps the socket (and
 * its `maxConnections` slot) in FIN-WAIT-2. After the answer the socket is destroyed within
 * a short grace, read or not.
 */
import type { Duplex } from 'node:stream'

/** How long an error answer may take to drain before the socket is destroyed. */
export const ERROR_ANSWER_GRACE_MS = 1_000

const kGuarded = Symbol('switchyard.edgeSocketGuarded')

type Guardable = Duplex & { [kGuarded]?: true }

function destroyOnError(this: Duplex): void {
  this.destroy()
}

/** Give `socket` an 'error' handler (once) that destroys it: a reset is the peer's business, never a crash. */
export function guardSocket(socket: Duplex): Duplex {
  const s = socket as Guardable
  if (s[kGuarded] !== true) {
    s[kGuarded] = true
    s.on('error', destroyOnError)
  }
  return socket
}

/**
 * Write a whole error answer, half-close, and destroy the socket after `graceMs` whether or
 * not the client read it. The socket is guarded first, so a reset mid-answer is harmless.
 */
export function answerAndClose(socket: Duplex, answer: string, graceMs = ERROR_ANSWER_GRACE_MS): void {
  guardSocket(socket)
  if (socket.destroyed) return
  if (!socket.writable) {
    socket.destroy()
    return
  }
  socket.end(answer)
  const timer = setTimeout(() => socket.destroy(), graceMs)
  timer.unref()
  socket.once('close', () => clearTimeout(timer))
}

/** Attach the 'connect' refusal to an HTTP/1.x server: a gateway is not a forward proxy. */
export function refuseConnect(server: { on(event: 'connect', listener: (req: unknown, socket: Duplex) => void): unknown }, answer: string): void {
  server.on('connect', (_req, socket) => answerAndClose(socket, answer))
}
