/**
 * Shared pieces of the security end-to-end tests: a recording upstream, a real gateway, a
 * request helper that returns status, headers and parsed JSON, and one cleanup list.
 */
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

export { rawExchange, statusOf, statusesOf } from '../helpers/raw-http.js'
