/**
 * Real upstream servers for tests: node:http on 127.0.0.1, port 0, recording what they receive.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: Buffer
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void | Promise<void>

export interface TestUpstream {
  readonly url: string
  readonly port: number
  readonly name: string
  readonly server: http.Server
  readonly requests: ReceivedRequest[]
  /** Replace the handler at run time. */
  setHandler(handler: UpstreamHandler): void
  /** Stop accepting and destroy open sockets (simulates a dead backend). */
  close(): Promise<void>
}

/** Default handler: 200 JSON naming the upstream and echoing method, url and headers. */
export function echoHandler(name: string): UpstreamHandler {
  return (req, res, body) => {
    const payload = JSON.stringify({ upstream: name, method: req.method, url: req.url, headers: req.headers, body: body.toString('utf8') })
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name })
    res.end(req.method === 'HEAD' ? undefined : payload)
  }
}

export async function startUpstream(name = 'upstream', handler?: UpstreamHandler, port = 0): Promise<TestUpstream> {
  let current: UpstreamHandler = handler ?? echoHandler(name)
  const requests: ReceivedRequest[] = []
  const sockets = new Set<import('node:net').Socket>()
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      Promise.resolve(current(req, res, body)).catch((err) => {
        res.destroy(err as Error)
      })
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const actualPort = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${actualPort}`,
    port: actualPort,
    name,
    server,
    requests,
    setHandler(h) {
      current = h
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
        server.closeAllConnections?.()
      })
    },
  }
}

/** Wait until `check` returns truthy, polling every `intervalMs`, failing after `timeoutMs`. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 5000, intervalMs = 20, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

/** A free TCP port on 127.0.0.1 (for servers that must be told a port up front). */
export async function freePort(): Promise<number> {
  const srv = http.createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address() as AddressInfo
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}
