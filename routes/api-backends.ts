/**
 * Runtime control of one backend (HAProxy's `set server state`, NGINX Plus's upstream API):
 *   PUT /api/pools/:pool/backends/:backend  body {"state": "enabled"|"drain"|"disabled", "weight": N|null}
 *   → 200 and the backend as `GET /api/pools` shows it
 *
 * `:backend` is the URL-encoded backend URL (`http%3A%2F%2F10.0.0.5%3A8080`). `drain` stops new
 * requests while in-flight ones and their sticky sessions finish; `disabled` takes nothing.
 * Both, and a weight override (`null` returns to the configured weight), hold across reloads
 * while the backend stays in the configuration. Every change is audited: who (the admin token,
 * or the peer address when no token is configured) and what (before and after).
 */
import { Ajv } from 'ajv'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { BadBackendUrlError, UnknownBackendError, UnknownPoolError } from '../src/upstream/errors.js'
import type { BackendControl } from '../src/upstream/types.js'
import type { AdminContext, AdminFeature } from './admin-port.js'

const bodySchema = {
  type: 'object',
  minProperties: 1,
  additionalProperties: false,
  properties: {
    state: { type: 'string', enum: ['enabled', 'drain', 'disabled'] },
    // Same bound as a configured weight; null clears the override.
    weight: { anyOf: [{ type: 'integer', minimum: 0, maximum: 1_000_000 }, { type: 'null' }] },
  },
} as const

// No type coercion: "2" or true is not a weight.
const strictAjv = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: false, removeAdditional: false })

/** `http://h:80/`, `HTTP://H:80` → the origin the registry keys backends by; undefined when not a URL. */
function originOf(text: string): string | undefined {
  try {
    const url = new URL(text)
    return url.origin === 'null' ? `${url.protocol}//${url.host}` : url.origin
  } catch {
    return undefined
  }
}

/** Who made an admin change: the token holder, or the peer when the admin API has no token. */
export function adminActor(request: FastifyRequest, tokenConfigured: boolean): Record<string, unknown> {
  return { by: tokenConfigured ? 'admin-token' : 'anonymous', peer: request.socket.remoteAddress }
}

export async function apiBackends(app: FastifyInstance, ctx: AdminContext): Promise<void> {
  app.put<{ Params: { pool: string; backend: string }; Body: BackendControl }>(
    '/api/pools/:pool/backends/:backend',
    {
      schema: { body: bodySchema, params: { type: 'object', properties: { pool: { type: 'string' }, backend: { type: 'string' } }, required: ['pool', 'backend'] } },
      validatorCompiler: ({ schema }) => strictAjv.compile(schema),
    },
    async (request) => {
      const { pool, backend } = request.params
      const gateway = ctx.gateway
      const snapshot = gateway.pools.snapshot().find((p) => p.name === pool)
      if (snapshot === undefined) throw new UnknownPoolError(pool)
      const origin = originOf(backend)
      if (origin === undefined) throw new BadBackendUrlError(backend)
      const result = gateway.pools.setBackend(pool, origin, request.body)
      if (result === undefined) throw new UnknownBackendError(pool, origin, snapshot.backends.map((b) => b.url).join(', '))
      const admin = gateway.state.settings.admin
      const detail = { pool, backend: origin, before: result.before, after: result.after, ...adminActor(request, admin !== false && admin.token !== '') }
      ctx.audit('backend.control', detail)
      gateway.events?.record('backend.state', { pool, backend: origin, state: result.after.state, weight: result.after.weight })
      return gateway.pools.snapshot().find((p) => p.name === pool)!.backends.find((b) => b.url === origin)
    },
  )
}

export const backendsAdminFeature: AdminFeature = {
  name: 'backends',
  plugin: (async (app, { ctx }) => {
    await apiBackends(app, ctx)
  }) as FastifyPluginAsync<{ ctx: AdminContext }>,
}
