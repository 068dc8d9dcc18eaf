// Gateway rows beyond the plain route: the full edge chain (JWT + rate limit) and a cache hit.
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
  ]
}
