/**
 * The framework-free core: the JWT and rate-limit features (src/auth/, src/ratelimit/) name no
 * framework. Fastify's stores are built by the adapter plugins/rate-limit-store.ts.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

const root = path.resolve(import.meta.dirname, '../..')
// errors.ts files are being moved off @fastify/error separately; drop them from this list when done.
const PENDING = new Set(['src/auth/errors.ts', 'src/ratelimit/errors.ts'])

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${dir}/${f}`)
    .filter((f) => !PENDING.has(f))
}

describe('layering', () => {
  for (const dir of ['src/auth', 'src/ratelimit', 'src/policies']) {
    it(`${dir} imports neither fastify nor @fastify/*`, () => {
      for (const file of sources(dir)) {
        const text = readFileSync(path.join(root, file), 'utf8')
        expect(text, file).not.toMatch(/from ['"](fastify|fastify-plugin|@fastify\/[^'"]*)['"]/)
        expect(text, file).not.toMatch(/(import|require)\(\s*['"](fastify|@fastify\/[^'"]*)/)
      }
    })
  }
})
