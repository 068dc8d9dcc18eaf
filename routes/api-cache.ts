/**
 * POST /api/cache/purge: remove cached responses.
 *   {}                        → everything
 *   {"prefix": "/api/users"}  → entries whose request path starts with the prefix
 *   {"tag": "user-7"}         → entries the upstream tagged with `Cache-Tag: user-7`
 * Answer: {"purged": N}. Any other body is a 400 naming the problem.
 */
import { Ajv } from 'ajv'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { cacheServiceOf, type PurgeRequest } from '../src/cache/registry.js'
import { errorBody } from '../src/errors.js'
import type { AdminContext, AdminFeature } from './admin-port.js'

const purgeBodySchema = {
  type: 'object',
  additionalProperties: false,
  maxProperties: 1,
  properties: {
    prefix: { type: 'string', minLength: 1, maxLength: 2048, pattern: '^/' },
    tag: { type: 'string', minLength: 1, maxLength: 256 },
  },
} as const

// No type coercion: `{"tag": 7}` is an error, not the tag "7".
const strictAjv = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: false, removeAdditional: false })

export async function apiCache(app: FastifyInstance, opts: { ctx: AdminContext }): Promise<void> {
  app.post<{ Body: PurgeRequest | undefined }>(
    '/api/cache/purge',
    { schema: { body: purgeBodySchema }, validatorCompiler: ({ schema }) => strictAjv.compile(schema) },
    async (request, reply) => {
      const service = cacheServiceOf(opts.ctx.gateway.handle)
      if (service === undefined) return reply.code(404).type('application/json; charset=utf-8').send(errorBody(404, 'caching is not enabled'))
      const body = request.body ?? {}
      const purged = await service.purge(body)
      opts.ctx.audit('cache.purge', { ...body, purged })
      return { purged }
    },
  )
}

export const cacheAdminFeature: AdminFeature = {
  name: 'cache',
  plugin: (async (app, { ctx }) => apiCache(app, { ctx })) as FastifyPluginAsync<{ ctx: AdminContext }>,
}
