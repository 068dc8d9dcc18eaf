/**
 * A listener that could not bind (port in use, no permission, address not on this host). The
 * CLI prints its message as one line and exits 1: `cannot listen on 127.0.0.1:9901 (admin):
 * address already in use`.
 */

/** Which listener: the plain data plane, the TLS one, or the admin API. */
export type ListenerName = 'http' | 'tls' | 'admin' | `stream ${string}`

const REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this host',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EINVAL: 'invalid address',
}

export class ListenError extends Error {
  readonly code = 'SWITCHYARD_LISTEN'
  readonly listener: ListenerName
  readonly host: string
  readonly port: number
  readonly reason: string

  constructor(listener: ListenerName, host: string, port: number, reason: string, options?: { cause?: unknown }) {
    const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
    super(`cannot listen on ${h}:${port} (${listener}): ${reason}`, options)
    this.name = 'ListenError'
    this.listener = listener
    this.host = host
    this.port = port
    this.reason = reason
  }

  /** The error a failed bind raised, as a ListenError; other errors unchanged. */
  static from(err: unknown, listener: ListenerName, host: string, port: number): unknown {
    if (err instanceof ListenError) return err
    const e = err as NodeJS.ErrnoException | undefined
    if (e === undefined || e === null || typeof e !== 'object' || typeof e.code !== 'string') return err
    if (e.syscall !== 'listen' && e.syscall !== 'bind' && e.syscall !== 'getaddrinfo' && REASONS[e.code] === undefined) return err
    return new ListenError(listener, host, port, REASONS[e.code] ?? e.code.toLowerCase(), { cause: err })
  }
}
