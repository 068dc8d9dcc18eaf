/**
 * TLS clients for tests: a bare handshake that reports what the server presented, an HTTPS
 * request over HTTP/1.1 and one over HTTP/2, each on its own connection that is closed when the
 * answer is in (nothing left open for afterEach to wait on).
 */
import http2 from 'node:http2'
import https from 'node:https'
import tls, { type ConnectionOptions, type PeerCertificate } from 'node:tls'

export interface Handshake {
  readonly cert: PeerCertificate
  readonly protocol: string | null
  readonly alpn: string | false | null
}

/** Handshake with 127.0.0.1:port (servername undefined: no SNI), report and close. */
export function handshake(port: number, opts: ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts }, () => {
      const out = { cert: socket.getPeerCertificate(), protocol: socket.getProtocol(), alpn: socket.alpnProtocol }
      socket.end()
      resolve(out)
    })
    socket.on('error', reject)
  })
}

export interface SimpleResponse {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
  readonly httpVersion: string
}

export interface RequestOptions {
  readonly method?: string
  readonly headers?: Record<string, string>
  readonly servername?: string
  readonly ca?: string | string[]
  readonly cert?: string
  readonly key?: string
  readonly body?: string
}

/** HTTP/1.1 over TLS to 127.0.0.1 (one connection, closed after the response). */
export function httpsRequest(port: number, path: string, opts: RequestOptions = {}): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      <https.RequestOptions>{
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: false,
        ALPNProtocols: ['http/1.1'],
        ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
        ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
        ...(opts.cert !== undefined ? { cert: opts.cert, key: opts.key } : {}),
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (body += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, httpVersion: res.httpVersion }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(opts.body)
  })
}

/** HTTP/2 over TLS (ALPN h2): one session, one stream, closed after the response. */
export function h2Request(port: number, path: string, opts: RequestOptions & { authority?: string } = {}): Promise<SimpleResponse & { alpn: string | undefined }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://${opts.authority ?? `127.0.0.1:${port}`}`, {
      host: '127.0.0.1',
      port,
      ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.cert !== undefined ? { cert: opts.cert, key: opts.key } : {}),
    } as http2.SecureClientSessionOptions)
    session.on('error', reject)
    const stream = session.request({ ':method': opts.method ?? 'GET', ':path': path, ...(opts.authority !== undefined ? { ':authority': opts.authority } : {}), ...opts.headers })
    let status = 0
    let headers: Record<string, string | string[] | undefined> = {}
    let body = ''
    stream.setEncoding('utf8')
    stream.on('response', (h) => {
      status = Number(h[':status'])
      headers = h as Record<string, string | string[] | undefined>
    })
    stream.on('data', (c: string) => (body += c))
    stream.on('end', () => {
      const alpn = session.alpnProtocol
      session.close()
      if (status === 0) reject(new Error(`stream closed without a response (code ${stream.rstCode})`))
      else resolve({ status, headers, body, httpVersion: '2.0', alpn })
    })
    stream.on('error', (err) => {
      session.destroy()
      reject(err)
    })
    stream.end(opts.body)
  })
}
