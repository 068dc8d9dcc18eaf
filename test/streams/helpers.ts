/**
 * Real sockets for stream tests: TCP backends that greet with their name and echo, a client
 * that collects what it receives, and a free port nobody listens on.
 */
import net from 'node:net'
import type { StartedGateway } from '../helpers/gateway.js'

export interface TcpBackend {
  readonly server: net.Server
  readonly port: number
  readonly url: string
  /** Everything each accepted connection sent, in accept order (PROXY headers land here). */
  readonly received: Buffer[]
  readonly sockets: Set<net.Socket>
  close(): Promise<void>
}

/**
 * A backend that writes `<name>\n` on accept (unless `greet` is false) and echoes every byte
 * back, honouring half-close: on the client's FIN it sends `bye` and ends.
 */
export async function tcpBackend(name: string, opts: { greet?: boolean } = {}): Promise<TcpBackend> {
  const received: Buffer[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    if (opts.greet !== false) s.write(`${name}\n`)
    const index = received.push(Buffer.alloc(0)) - 1
    s.on('data', (d: Buffer) => {
      received[index] = Buffer.concat([received[index]!, d])
      s.write(d)
    })
    s.on('end', () => s.end('bye'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    server,
    port,
    url: `tcp://127.0.0.1:${port}`,
    received,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** A port that refuses connections (bound, then released). */
export async function deadPort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

export function streamPort(gw: StartedGateway, name: string): number {
  const a = gw.streams.address(name)
  if (a === undefined) throw new Error(`stream ${name} is not listening`)
  return a.port
}

export interface Client {
  readonly socket: net.Socket
  /** Everything received so far. */
  text(): string
  /** Resolves once the received text satisfies `until`. */
  waitFor(until: (text: string) => boolean, timeoutMs?: number): Promise<string>
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>
}

export async function connectClient(port: number, host = '127.0.0.1'): Promise<Client> {
  const socket = net.connect({ host, port, allowHalfOpen: true })
  const chunks: Buffer[] = []
  const waiters = new Set<() => void>()
  socket.on('data', (d: Buffer) => {
    chunks.push(d)
    for (const w of [...waiters]) w()
  })
  socket.on('error', () => {})
  // The peer's FIN ends our side too (the half-close test ends first and still reads).
  socket.on('end', () => socket.end())
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const text = (): string => Buffer.concat(chunks).toString('latin1')
  return {
    socket,
    text,
    closed,
    waitFor(until, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (until(text())) {
            waiters.delete(check)
            clearTimeout(timer)
            resolve(text())
          }
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out waiting; received so far: ${JSON.stringify(text())}`))
        }, timeoutMs)
        waiters.add(check)
        void closed.then(() => {
          if (waiters.has(check)) check()
        })
        check()
      })
    },
  }
}

/** The first line a backend greets with, through the gateway. */
export async function greeting(port: number): Promise<string> {
  const c = await connectClient(port)
  try {
    const text = await c.waitFor((t) => t.includes('\n'))
    return text.slice(0, text.indexOf('\n'))
  } finally {
    c.socket.destroy()
  }
}

/** Polls `read` until `ok` holds (a few ms apart), or fails with the last value. */
export async function until<T>(read: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await read()
    if (ok(v)) return v
    if (Date.now() > end) throw new Error(`condition not reached; last value ${JSON.stringify(v)}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
