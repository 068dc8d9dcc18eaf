/**
 * Start a real gateway (data plane and admin on free loopback ports) from a raw config object,
 * as a user would write it in YAML. Listeners default to 127.0.0.1:0; admin token empty.
 */
import { pino, type Logger } from 'pino'
import { Writable } from 'node:stream'
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway.js'

export interface StartedGateway extends Gateway {
  /** Access-log and other log lines captured as parsed JSON. */
  readonly logs: Record<string, unknown>[]
}

export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>)
      cb()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

export async function startGateway(config: Record<string, unknown>, options: GatewayOptions = {}): Promise<StartedGateway> {
  const raw = {
    ...config,
    server: { host: '127.0.0.1', port: 0, ...(config.server as object | undefined) },
    admin: config.admin === false ? false : { host: '127.0.0.1', port: 0, ...(config.admin as object | undefined) },
  }
  const { logger, lines } = captureLogger()
  const gw = await createGateway(raw, { logger, processMetrics: false, ...options })
  await gw.listen()
  return Object.assign(gw, { logs: lines }) as StartedGateway
}

/** A minimal config: one pool of the given backends and one route for everything under `/`. */
export function simpleConfig(backends: string[], extra: { pool?: Record<string, unknown>; route?: Record<string, unknown>; top?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    pools: { main: { backends, ...extra.pool } },
    routes: [{ name: 'all', match: { path: '/' }, pool: 'main', ...extra.route }],
    ...extra.top,
  }
}
