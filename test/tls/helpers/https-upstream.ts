/** A real HTTPS upstream on 127.0.0.1:0 that echoes what it received (TLS counterpart of startUpstream). */
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { readFile } from 'node:fs/promises'
import type { IssuedFiles } from './pki.js'

export interface HttpsUpstream {
  readonly url: string
  readonly servernames: (string | false | null)[]
  close(): Promise<void>
}

export async function startHttpsUpstream(files: IssuedFiles): Promise<HttpsUpstream> {
  const servernames: (string | false | null)[] = []
  const sockets = new Set<Socket>()
  const server = https.createServer({ cert: await readFile(files.cert), key: await readFile(files.key) }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ url: req.url, headers: req.headers }))
  })
  server.on('secureConnection', (s: import('node:tls').TLSSocket) => servernames.push(s.servername))
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    servernames,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      }),
  }
}
