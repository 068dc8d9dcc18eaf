/**
 * Shared setup for the cache end-to-end tests: a real upstream (node:http) behind a real
 * gateway with one cached route, requests over real HTTP (undici).
 */
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream, type UpstreamHandler } from '../helpers/upstream.js'

export interface CacheRig {
  readonly gw: StartedGateway
  readonly up: TestUpstream
  get(path: string, headers?: Record<string, string>, method?: string): Promise<Reply>
  /** Requests the upstream received for `path` (any method). */
  hits(path: string): number
  close(): Promise<void>
}

export interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

export async function send(base: string, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Reply> {
  const res = await request(base + path, { method: method as 'GET', headers, body })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers as Reply['headers'], body: text }
}

export async function cacheRig(
  handler: UpstreamHandler,
  opts: { route?: Record<string, unknown>; cache?: Record<string, unknown>; top?: Record<string, unknown>; pool?: Record<string, unknown> } = {},
): Promise<CacheRig> {
  const up = await startUpstream('origin', handler)
  const gw = await startGateway({
    pools: { main: { backends: [up.url], ...opts.pool } },
    routes: [{ name: 'cached', match: { path: '/' }, pool: 'main', cache: opts.cache ?? {}, ...opts.route }],
    ...opts.top,
  })
  return {
    gw,
    up,
    get: (path, headers, method) => send(gw.url, path, headers, method),
    hits: (path) => up.requests.filter((r) => r.url === path).length,
    async close() {
      await gw.close()
      await up.close()
    },
  }
}

/** An origin answer: status, headers and a body (omitted for HEAD). */
export function reply(res: import('node:http').ServerResponse, req: import('node:http').IncomingMessage, status: number, headers: Record<string, string | string[]>, body = ''): void {
  res.writeHead(status, { 'content-type': 'text/plain', ...headers })
  res.end(req.method === 'HEAD' ? undefined : body)
}
