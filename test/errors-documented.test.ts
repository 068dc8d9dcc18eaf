import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { ERROR_CODES } from '../src/errors.js'

describe('error registry', () => {
  it('documents every client-visible code with its status in docs/errors.md', () => {
    const doc = readFileSync(resolve(import.meta.dirname, '../docs/errors.md'), 'utf8')
    for (const { code, statusCode } of ERROR_CODES) {
      expect(doc, code).toMatch(new RegExp(`\\| \`${code}\` \\| ${statusCode} \\|`))
    }
  })
})
