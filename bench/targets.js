// One benchmark target per process, so the load generator and each server do not share an
// event loop. Usage: node bench/targets.js <kind> <port> [upstreamUrl]
// Prints "ready <port>" on stdout once listening.
import http from 'node:http'
import { Pool } from 'undici'

const [kind, portArg, upstream] = process.argv.slice(2)
const port = Number(portArg)
const ready = () => process.stdout.write(`ready ${port}\n`)
// A clean exit on SIGINT lets --cpu-prof write its profile.
process.on('SIGINT', () => process.exit(0))

async function main() {
  switch (kind) {
    case 'upstream': {
      const body = JSON.stringify({ hello: 'world', service: 'bench-upstream' })
      const server = http.createServer((req, res) => {
        if (req.url === '/health') return res.end('ok')
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'public, max-age=60' })
        res.end(body)
      })
      server.keepAliveTimeout = 60_000
      server.listen(port, '127.0.0.1', ready)
      break
    }
    case 'node-floor': {
      // The floor of any Node proxy: node:http in, undici Pool out, streamed, nothing else.
      const pool = new Pool(upstream, { connections: 128, pipelining: 1 })
      const server = http.createServer(async (req, res) => {
        try {
          const r = await pool.request({ path: req.url, method: req.method, headers: { 'x-forwarded-for': req.socket.remoteAddress } })
          const h = { ...r.headers }
          delete h.connection
          delete h['keep-alive']
          res.writeHead(r.statusCode, h)
          r.body.pipe(res)
        } catch {
          res.writeHead(502)
          res.end()
        }
      })
      server.keepAliveTimeout = 60_000
      server.listen(port, '127.0.0.1', ready)
      break
    }
    case 'fastify-http-proxy': {
      const { default: Fastify } = await import('fastify')
      const { default: proxy } = await import('@fastify/http-proxy')
      const app = Fastify({ logger: false })
      await app.register(proxy, { upstream, prefix: '/' })
      await app.listen({ port, host: '127.0.0.1' })
      ready()
      break
    }
    case 'switchyard': {
      // As `switchyard start` runs it: settings normalised first, the logger made from the
      // `log` section (async destination), the access log on (run.js sets log.access.file).
      const { createGateway, normalizeConfig } = await import('../dist/src/index.js')
      const { createGatewayLogger } = await import('../dist/src/log/logger.js')
      const config = JSON.parse(process.env.SWITCHYARD_BENCH_CONFIG)
      config.server = { ...config.server, host: '127.0.0.1', port }
      const settings = normalizeConfig(config)
      const gw = await createGateway(settings, { logger: createGatewayLogger(settings.log).logger })
      await gw.listen()
      ready()
      break
    }
    case 'switchyard-workers': {
      // server.workers: N worker threads on one port (SO_REUSEPORT), the main thread supervising.
      const { createSupervisor } = await import('../dist/src/workers/supervisor.js')
      const { createGatewayLogger } = await import('../dist/src/log/logger.js')
      const { normalizeConfig } = await import('../dist/src/index.js')
      const config = JSON.parse(process.env.SWITCHYARD_BENCH_CONFIG)
      config.server = { ...config.server, host: '127.0.0.1', port }
      const count = Number(process.env.SWITCHYARD_BENCH_WORKERS ?? 2)
      const sup = await createSupervisor({ document: config, count, logger: createGatewayLogger(normalizeConfig(config).log).logger })
      await sup.listen()
      process.on('SIGTERM', () => void sup.close().then(() => process.exit(0)))
      ready()
      break
    }
    default:
      throw new Error(`unknown target ${kind}`)
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
