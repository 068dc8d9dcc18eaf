/**
 * How a data listener's server is made: a function of the request listener, so wrappers compose
 * around the plain edge server (ACME HTTP-01 answers, the HTTPS redirect, h2c prior knowledge)
 * and the TLS listener's secure server, each adding what it answers before the data plane.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'

/** The data plane's `request` listener (Node's HTTP/1.1 and HTTP/2 compatibility objects alike). */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void

/**
 * The server a data listener listens on: Node's http.Server, https.Server or an HTTP/2 secure
 * server, all typed as the HTTP/1.1 one (the data plane uses only what they share).
 */
export type ListenerServer = Server

/** Builds a listener's server around `handler`; `opts` is passed through wrappers untouched. */
export type ServerFactory = (handler: RequestListener, opts?: unknown) => ListenerServer
