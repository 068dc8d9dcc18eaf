/**
 * `POST /api/explain` on the admin listener: how the running gateway would handle a described
 * request (route, why earlier routes did not match, upstream path, split and cohort, backend
 * candidates with health and circuit, fallback chain, rate-limit and cache keys). Nothing is
 * sent upstream; see src/explain/explain.ts.
 */
import { Ajv } from 'ajv'
import type { FastifyPluginAsync } from 'fastify'
import { explainRequest, type ExplainInput } from '../src/explain/explain.js'
import type { AdminContext, AdminFeature } from './admin-port.js'

// RFC 9110 §5.1 field names and §9.1 method tokens.
const TOKEN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"

export const explainBodySchema = {
  type: 'object',
  required: ['method', 'host', 'path'],
  additionalProperties: false,
  properties: {
    method: { type: 'string', pattern: TOKEN, maxLength: 32 },
    host: { type: 'string', minLength: 1, maxLength: 1024 },
    path: { type: 'string', minLength: 1, maxLength: 16384 },
    headers: {
      type: 'object',
      propertyNames: { pattern: TOKEN, maxLength: 256 },
      additionalProperties: { anyOf: [{ type: 'string', maxLength: 16384 }, { type: 'array', items: { type: 'string', maxLength: 16384 }, maxItems: 64 }] },
      maxProperties: 200,
    },
    claims: { type: 'object' },
    clientIp: { type: 'string', minLength: 1, maxLength: 64 },
    protocol: { enum: ['http', 'https'] },
  },
} as const

// No type coercion: `"method": 1` is a bad request, not "1".
const strictAjv = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: false, removeAdditional: false })

const plugin: FastifyPluginAsync<{ ctx: AdminContext }> = async (app, { ctx }) => {
  app.post<{ Body: ExplainInput }>(
    '/api/explain',
    { schema: { body: explainBodySchema }, validatorCompiler: ({ schema }) => strictAjv.compile(schema) },
    async (request) => explainRequest(ctx.gateway.state, request.body),
  )
}

export const explainAdminFeature: AdminFeature = { name: 'explain', plugin }
