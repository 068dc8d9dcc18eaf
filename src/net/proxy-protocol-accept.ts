/**
 * PROXY protocol (v1/v2) received on the HTTP listener from `server.trustedProxies`: an outer
 * layer-4 balancer (HAProxy `send-proxy`, AWS NLB, another Switchyard stream with
 * `proxyProtocol`) announces the real client before the first HTTP byte. The header is read
 * before the HTTP parser sees the connection; the socket's `remoteAddress`/`remotePort` then
 * report the announced client, so client-IP resolution, access rules and logs all see it.
 *
 * Only trusted peers are read this way (anyone else could claim any address), and from them the
 * header is optional: a connection that starts with something else (an HTTP request from a
 * trusted reverse proxy using X-Forwarded-For) is handed over untouched. HTTP clients speak
 * first, so waiting for the first bytes never deadlocks; it is bounded by `timeout()` ms.
 */
import type net from 'node:net'
import { parseProxyHeader } from '../streams/proxy-protocol.js'
import { canonicalIp, unmapIPv4 } from './client-ip.js'

type ConnectionListener = (socket: net.Socket) => void

/**
 * Puts the PROXY header read in front of `server`'s own connection handling (the HTTP parser).
 * Call right after creating the server, before anything else listens for 'connection'.
 */
export function acceptProxyProtocol(server: net.Server, isTrusted: (address: string) => boolean, timeout: () => number): void {
  const listeners = server.listeners('connection') as ConnectionListener[]
  server.removeAllListeners('connection')
  const deliver = (socket: net.Socket): void => {
    for (const l of listeners) l.call(server, socket)
  }
  server.on('connection', (socket: net.Socket) => {
    if (!isTrusted(unmapIPv4(socket.remoteAddress ?? ''))) return deliver(socket)
    readHeader(socket, timeout(), deliver)
  })
}

function readHeader(socket: net.Socket, timeoutMs: number, deliver: ConnectionListener): void {
  let data: Buffer = Buffer.alloc(0)
  const done = (): void => {
    clearTimeout(timer)
    socket.off('data', onData)
    socket.off('error', onError)
  }
  const onError = (): void => {
    done()
    socket.destroy()
  }
  const onData = (chunk: Buffer): void => {
    data = data.length === 0 ? chunk : Buffer.concat([data, chunk])
    const h = parseProxyHeader(data)
    if (h.status === 'incomplete') return
    done()
    if (h.status === 'invalid') return void socket.destroy()
    let rest = data
    if (h.status === 'ok') {
      rest = data.subarray(h.length)
      if (h.source !== undefined) {
        // Own properties shadow the prototype getters for this one connection.
        Object.defineProperty(socket, 'remoteAddress', { value: canonicalIp(h.source.address), configurable: true })
        Object.defineProperty(socket, 'remotePort', { value: h.source.port, configurable: true })
      }
    }
    // The HTTP server reads the socket's handle directly once it has it, so bytes put back with
    // unshift() could be overtaken by newer ones: hand them to its parser before any further
    // read can happen (same tick), as the 'data' the parser listens to.
    deliver(socket)
    if (rest.length > 0) socket.emit('data', rest)
  }
  const timer = setTimeout(onError, timeoutMs)
  socket.on('error', onError)
  socket.on('data', onData)
}
