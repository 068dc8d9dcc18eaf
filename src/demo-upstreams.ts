/**
 * Built-in demo upstreams for `switchyard demo` / `npm start`: a users service in two versions
 * with several instances, an orders service and a static fallback, on the fixed loopback ports
 * that config/gateway.yaml points at. Each answers JSON naming itself and has /health.
 */
import http from 'node:http'

export interface DemoService {
  readonly name: string
  readonly port: number
}

export const DEMO_SERVICES: readonly DemoService[] = [
  { name: 'users-v1-a', port: 9001 },
  { name: 'users-v1-b', port: 9002 },
  { name: 'users-v1-c', port: 9003 },
  { name: 'users-v2-a', port: 9101 },
  { name: 'users-v2-b', port: 9102 },
  { name: 'users-static', port: 9201 },
  { name: 'orders-a', port: 9301 },
  { name: 'orders-b', port: 9302 },
]

export interface RunningDemo {
  readonly servers: readonly http.Server[]
  close(): Promise<void>
}

function handler(name: string): http.RequestListener {
  let hits = 0
  return (req, res) => {
    hits++
    const url = new URL(req.url ?? '/', 'http://demo')
    if (url.pathname === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ status: 'ok', load: Math.min(1, Math.random() * 0.5) }))
      return
    }
    // Fault injection for walkthroughs (docs/traffic.md, progressive delivery): a request
    // naming this service (or a prefix of its name) in x-demo-fail gets a 503 from it.
    const fail = req.headers['x-demo-fail']
    if (typeof fail === 'string' && fail !== '' && name.startsWith(fail)) {
      res.writeHead(503, { 'content-type': 'application/json', 'x-served-by': name })
      res.end(JSON.stringify({ service: name, error: 'failure injected by x-demo-fail' }))
      return
    }
    const body = JSON.stringify({
      service: name,
      method: req.method,
      path: url.pathname,
      query: url.search,
      userId: req.headers['x-user-id'] ?? null,
      requestId: req.headers['x-request-id'] ?? null,
      hits,
    })
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'x-served-by': name }
    if (name.startsWith('orders')) {
      headers['cache-control'] = 'public, max-age=10'
      headers['cache-tag'] = 'orders'
    }
    res.writeHead(200, headers)
    res.end(req.method === 'HEAD' ? undefined : body)
  }
}

export async function startDemoUpstreams(host = '127.0.0.1', services = DEMO_SERVICES): Promise<RunningDemo> {
  const servers: http.Server[] = []
  try {
    for (const s of services) {
      const server = http.createServer(handler(s.name))
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(s.port, host, () => resolve())
      })
      servers.push(server)
    }
  } catch (err) {
    for (const s of servers) s.close()
    throw err
  }
  return {
    servers,
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.close(() => r())
              s.closeAllConnections()
            }),
        ),
      )
    },
  }
}
