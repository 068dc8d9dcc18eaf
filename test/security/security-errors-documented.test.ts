/**
 * Every client-visible code of the JWT and rate-limit features is documented, with its status,
 * in docs/security.md (the registry of the core's codes is kept in step with docs/errors.md).
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { AUTH_ERROR_CODES } from '../../src/auth/errors.js'
import { RATE_LIMIT_ERROR_CODES } from '../../src/ratelimit/errors.js'

describe('security error codes', () => {
  it('are documented with their status in docs/security.md', () => {
    const doc = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8')
    for (const { code, statusCode } of [...AUTH_ERROR_CODES, ...RATE_LIMIT_ERROR_CODES]) {
      expect(doc, code).toMatch(new RegExp(`\\| \`${code}\` \\| ${statusCode} \\|`))
    }
  })
})
