/**
 * Shared pieces of the security end-to-end tests: a recording upstream, a real gateway, a
 * request helper that returns status, headers and parsed JSON, and one cleanup list.
 */
import net from 'node:net'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Record<string, unknown> | undefined
  text: string
}

export class Resources {
  private readonly closers: (() => unknown)[] = []

  add<T>(closer: () => unknown, value: T): T {
    this.closers.push(closer)
    return value
  }

  async upstream(name = 'up'): Promise<TestUpstream> {
    const up = await startUpstream(name)
    return this.add(() => up.close(), up)
  }

  async gateway(config: Record<string, unknown>): Promise<StartedGateway> {
    const gw = await startGateway(config)
    return this.add(() => gw.close(), gw)
  }

  async closeAll(): Promise<void> {
    while (this.closers.length) await this.closers.pop()!()
  }
}

export async function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const res = await request(url, { method: (options.method ?? 'GET') as 'GET', headers: options.headers, body: options.body })
  const text = await res.body.text()
  let body: Record<string, unknown> | undefined
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    body = undefined
  }
  return { status: res.statusCode, headers: res.headers, body, text }
}

/**
 * Send raw bytes on a fresh TCP connection and collect everything the server writes until it
 * closes the connection or `idleMs` passes without data.
 */
export function rawExchange(port: number, payload: string | Buffer | (string | Buffer)[], idleMs = 300, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host)
    const chunks: Buffer[] = []
    let timer: NodeJS.Timeout | undefined
    const finish = (): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(Buffer.concat(chunks).toString('latin1'))
    }
    const arm = (): void => {
      clearTimeout(timer)
      timer = setTimeout(finish, idleMs)
    }
    socket.on('connect', () => {
      for (const p of Array.isArray(payload) ? payload : [payload]) socket.write(p)
      arm()
    })
    socket.on('data', (d) => {
      chunks.push(d)
      arm()
    })
    socket.on('end', finish)
    socket.on('close', finish)
    socket.on('error', (err) => {
      clearTimeout(timer)
      if (chunks.length) finish()
      else reject(err)
    })
  })
}

/** The status code of the first response in a raw exchange, or 0 when nothing came back. */
export function statusOf(raw: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw)
  return m ? Number(m[1]) : 0
}

/** Every response status in a raw exchange (pipelined answers). */
export function statusesOf(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]))
}
