/**
 * A data listener: one Node server (plain, TLS, h2c) with the data plane attached, over the
 * gateway's one handle and recorder. The plain and the TLS listener are two of these; neither
 * holds state of its own beyond its server, so nothing is set up twice.
 */
import type { IncomingMessage } from 'node:http'
import type { GatewayHandle } from '../gateway-handle.js'
import type { ListenerServer, ServerFactory } from '../net/server-factory.js'
import type { RequestContext } from '../request-context.js'
import { countConnections, observeParserRefusals } from './edge.js'
import { createDataPlane } from './handler.js'
import type { AnswerRecorder } from './recorder.js'

export interface DataListenerOptions {
  readonly handle: GatewayHandle
  readonly recorder: AnswerRecorder
  readonly protocol: 'http' | 'https'
  /** Makes the server around the data plane's request listener. */
  readonly factory: ServerFactory
  /** What this listener alone adds to an admitted request (see DataPlaneOptions.enrich). */
  readonly enrich?: (request: IncomingMessage, ctx: RequestContext) => void
}

export interface DataListener {
  readonly server: ListenerServer
  /** The gateway this listener serves. */
  readonly handle: GatewayHandle
  /** Bind; `reusePort` for SO_REUSEPORT beside other worker threads. Rejects with the bind error. */
  listen(host: string, port: number, reusePort?: boolean): Promise<void>
  /**
   * Stop accepting connections: requests still arriving on open connections get 503 with
   * `Connection: close`, idle keep-alive connections close now, HTTP/2 sessions get GOAWAY,
   * WebSocket tunnels end. Resolves once every connection has closed (the caller bounds that
   * with `server.shutdownTimeout`).
   */
  close(): Promise<void>
}

export function createDataListener(o: DataListenerOptions): DataListener {
  const plane = createDataPlane({ handle: o.handle, recorder: o.recorder, protocol: o.protocol, ...(o.enrich !== undefined ? { enrich: o.enrich } : {}) })
  const server = o.factory(plane.request)
  server.on('upgrade', plane.upgrade)
  observeParserRefusals(server, o.recorder)
  countConnections(server, o.protocol, o.handle.metrics)
  let closing: Promise<void> | undefined
  return {
    server,
    handle: o.handle,
    listen(host, port, reusePort = false) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err)
        server.once('error', onError)
        server.listen({ host, port, ...(reusePort ? { reusePort: true } : {}) }, () => {
          server.off('error', onError)
          resolve()
        })
      })
    },
    close() {
      return (closing ??= new Promise<void>((resolve) => {
        plane.closing = true
        // Upgraded sockets left the server's connection tracking: a long-lived WebSocket would
        // hold the process open forever.
        for (const s of plane.tunnels) s.destroy()
        if (!server.listening) return resolve()
        server.close(() => resolve())
        // An HTTP/2 server has no closeIdleConnections; Node closes its idle sessions on close().
        server.closeIdleConnections?.()
        ;(server as { closeHttp2Sessions?: () => void }).closeHttp2Sessions?.()
      }))
    },
  }
}
