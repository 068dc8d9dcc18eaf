// Gateway rows beyond the plain route: the full edge chain (JWT + rate limit), a cache hit, and the
// edge policies a browser API uses (CORS + API key + compression, on the upstream's small body,
// which is below minSize: the cost of the policies themselves, not of zlib).
import { createHash } from 'node:crypto'
import { createSigner } from 'fast-jwt'

const SECRET = 'bench-secret-0123456789abcdef0123456789'

export function extraRows(_upstream, gwConfig) {
  const token = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 3_600_000 })({ sub: 'bench-user', scope: 'read' })
  return [
    {
      name: 'switchyard JWT + rate limit',
      config: gwConfig({
        top: { jwt: { algorithms: ['HS256'], secret: SECRET } },
        route: { jwt: { required: true, claims: { scope: 'read' } }, rateLimit: { max: 1_000_000_000, window: '1m', key: 'ip' } },
      }),
      headers: { authorization: `Bearer ${token}` },
    },
    {
      name: 'switchyard cache hit',
      config: gwConfig({ route: { cache: { ttl: '60s' } } }),
    },
    {
      name: 'switchyard CORS + API key + compress',
      config: gwConfig({
        route: {
          cors: { origins: ['https://app.example.com'], credentials: true },
          apiKey: { keys: [{ name: 'bench', hash: `sha256:${createHash('sha256').update('bench-key').digest('hex')}` }] },
          compress: true,
        },
      }),
      headers: { origin: 'https://app.example.com', 'x-api-key': 'bench-key', 'accept-encoding': 'gzip, deflate, br' },
    },
  ]
}
