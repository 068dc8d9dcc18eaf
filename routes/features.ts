/**
 * Admin endpoints contributed by features, each a Fastify plugin receiving `{ ctx: AdminContext }`.
 */
import type { FastifyPluginAsync } from 'fastify'

export interface AdminFeature {
  readonly name: string
  readonly plugin: FastifyPluginAsync<{ ctx: import('./admin.js').AdminContext }>
}

export const adminFeatures: AdminFeature[] = []
