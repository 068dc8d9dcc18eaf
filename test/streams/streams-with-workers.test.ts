/**
 * `server.workers: 2` with a stream: the main thread serves the streams (the worker threads
 * serve HTTP), so each stream address is bound once, and its connections and bytes show in the
 * process's /metrics and GET /api/streams.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import { createSupervisor, type Supervisor } from '../../src/workers/supervisor.js'
import { greeting, streamPort, tcpBackend, until, type TcpBackend } from './helpers.js'

const root = resolve(import.meta.dirname, '../..')
let sup: Supervisor | undefined
let backend: TcpBackend | undefined
afterEach(async () => {
  await sup?.close()
  await backend?.close()
})

test('with worker threads the main thread serves the streams', async () => {
  expect(existsSync(resolve(root, 'dist/src/workers/worker-main.js')), 'dist/ missing: npm test builds it (pretest)').toBe(true)
  backend = await tcpBackend('a')
  sup = await createSupervisor({
    document: {
      server: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      pools: { db: { backends: [backend.url] } },
      streams: [{ name: 'db', listen: { port: 0 }, pool: 'db' }],
    },
    count: 2,
    restartDelayMs: 20,
  })
  await sup.listen()
  const gw = sup.gateway as unknown as Parameters<typeof streamPort>[0]
  const port = streamPort(gw, 'db')
  for (let i = 0; i < 3; i++) expect(await greeting(port)).toBe('a')
  const admin = sup.gateway.adminUrl!
  await until(
    async () => ((await (await fetch(`${admin}/api/streams`)).json()) as { accepted: number; active: number }[])[0]!,
    (s) => s.accepted === 3 && s.active === 0,
  )
  const metrics = await (await fetch(`${admin}/metrics`)).text()
  expect(metrics).toContain('switchyard_stream_connections_total{stream="db",pool="db"} 3')
}, 45_000) // thread start-up on a loaded machine, as the worker suites allow
