/**
 * A real JWKS key server for tests (node:http on 127.0.0.1): serves a key set, an error status,
 * arbitrary text, slowly, or not at all, and counts the requests it receives.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface KeyServer {
  url: string
  hits: number
  /** What the next answers are: a key set, a status, or silence. */
  serve(answer: { keys?: Record<string, unknown>[]; status?: number; body?: string; hang?: boolean; delayMs?: number }): void
  close(): Promise<void>
}

export async function startKeyServer(): Promise<KeyServer> {
  let answer: { keys?: Record<string, unknown>[]; status?: number; body?: string; hang?: boolean; delayMs?: number } = { keys: [] }
  const sockets = new Set<import('node:net').Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const ks: KeyServer = {
    url: '',
    hits: 0,
    serve(a) {
      answer = a
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t)
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
  const server = http.createServer((_req, res) => {
    ks.hits++
    const a = answer
    if (a.hang) return
    const send = (): void => {
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json' })
      res.end(a.body ?? JSON.stringify({ keys: a.keys ?? [] }))
    }
    if (a.delayMs) {
      const t = setTimeout(() => {
        timers.delete(t)
        send()
      }, a.delayMs)
      timers.add(t)
    } else send()
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  ks.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`
  return ks
}

