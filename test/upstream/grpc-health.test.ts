/**
 * `healthCheck.type: grpc`: the gateway asks each backend grpc.health.v1.Health/Check (a real
 * @grpc/grpc-js server) and takes it out of rotation unless it answers SERVING.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import { fileURLToPath } from 'node:url'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { waitFor } from '../helpers/upstream.js'
import { decodeServingStatus, encodeHealthCheckRequest, grpcHealthService } from '../../src/upstream/grpc-health.js'

const def = protoLoader.loadSync(fileURLToPath(new URL('../fixtures/health.proto', import.meta.url)), { enums: String })
const Health = (grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }).grpc.health.v1.Health

interface HealthServer {
  readonly url: string
  /** Status per service name ('' = the server). */
  readonly status: Map<string, string>
  readonly asked: string[]
  close(): Promise<void>
}

async function startHealthServer(): Promise<HealthServer> {
  const server = new grpc.Server()
  const status = new Map<string, string>()
  const asked: string[] = []
  server.addService(Health.service, {
    Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      asked.push(call.request.service)
      const s = status.get(call.request.service)
      if (s === undefined) return cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' })
      cb(null, { status: s })
    },
  })
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))))
  return { url: `http://127.0.0.1:${port}`, status, asked, close: () => new Promise((r) => server.tryShutdown(() => r())) }
}

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

describe('grpc health checks', () => {
  it('SERVING keeps a backend in rotation; NOT_SERVING and an unknown service take it out', async () => {
    const a = await startHealthServer()
    const b = await startHealthServer()
    cleanup.push(() => a.close(), () => b.close())
    a.status.set('echo.Echo', 'SERVING')
    b.status.set('echo.Echo', 'NOT_SERVING')
    const gw: StartedGateway = await startGateway({
      pools: {
        main: {
          backends: [a.url, b.url],
          protocol: 'h2c',
          healthCheck: { type: 'grpc', path: '/echo.Echo', interval: '50ms', timeout: '500ms', healthyThreshold: 1, unhealthyThreshold: 1 },
        },
      },
      routes: [{ name: 'all', match: { path: '/' }, pool: 'main' }],
    })
    cleanup.push(() => gw.close())
    const [ba, bb] = gw.pools.get('main')!.backends
    await waitFor(() => bb!.healthy === false, 3000, 20, 'b marked down')
    expect(ba!.healthy).toBe(true)
    expect(a.asked).toContain('echo.Echo')

    b.status.set('echo.Echo', 'SERVING')
    await waitFor(() => bb!.healthy === true, 3000, 20, 'b back up')
    b.status.delete('echo.Echo')
    await waitFor(() => bb!.healthy === false, 3000, 20, 'b down for an unknown service')
  })

  it('needs an HTTP/2 pool', async () => {
    const { normalizeConfig } = await import('../../src/config/index.js')
    expect(() => normalizeConfig({ pools: { p: { backends: ['http://127.0.0.1:1'], healthCheck: { type: 'grpc' } } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] })).toThrow(
      'pools.p.healthCheck.type: grpc health checks need protocol h2 or h2c',
    )
  })

  it('encodes the request and decodes the answer as grpc.health.v1 does', () => {
    expect(grpcHealthService('/')).toBe('')
    expect(grpcHealthService('/health')).toBe('')
    expect(grpcHealthService('/pkg.Svc')).toBe('pkg.Svc')
    expect(encodeHealthCheckRequest('')).toEqual(Buffer.from([0, 0, 0, 0, 0]))
    expect(encodeHealthCheckRequest('ab')).toEqual(Buffer.from([0, 0, 0, 0, 4, 0x0a, 2, 0x61, 0x62]))
    expect(decodeServingStatus(Buffer.from([0, 0, 0, 0, 2, 0x08, 1]))).toBe('SERVING')
    expect(decodeServingStatus(Buffer.from([0, 0, 0, 0, 0]))).toBe('UNKNOWN')
  })
})
