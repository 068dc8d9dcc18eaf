import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { DEFAULTS, gatewayJsonSchema } from '../../src/config/index.js'

function propertyNames(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const item of node) propertyNames(item, out)
  else if (node !== null && typeof node === 'object') {
    const schema = node as Record<string, unknown>
    const properties = schema['properties']
    if (properties !== null && typeof properties === 'object') for (const key of Object.keys(properties)) out.add(key)
    for (const value of Object.values(schema)) propertyNames(value, out)
  }
  return out
}

test('docs/configuration.md names every key of the schema', async () => {
  const doc = await readFile(join(import.meta.dirname, '..', '..', 'docs', 'configuration.md'), 'utf8')
  const missing = [...propertyNames(gatewayJsonSchema())].filter((key) => key !== '$schema' && !doc.includes(`\`${key}\``) && !doc.includes(`.${key}\``) && !doc.includes(`\`${key}.`))
  expect(missing).toEqual([])
})

test('docs/configuration.md states the defaults the loader applies', async () => {
  const doc = await readFile(join(import.meta.dirname, '..', '..', 'docs', 'configuration.md'), 'utf8')
  const row = (key: string) => doc.split('\n').find((line) => line.startsWith(`| \`${key}\` |`)) ?? ''
  expect(row('port')).toContain(`\`${DEFAULTS.server.port}\``)
  expect(row('bodyLimit')).toContain('`10mb`')
  expect(row('maxHeaderSize')).toContain('`16kb`')
  expect(row('maxUrlLength')).toContain('`8kb`')
  expect(row('consecutiveFailures')).toContain(`\`${DEFAULTS.circuitBreaker.consecutiveFailures}\``)
  expect(row('maxEjectionPercent')).toContain(`\`${DEFAULTS.circuitBreaker.maxEjectionPercent}\``)
  expect(row('budget')).toContain(`\`${DEFAULTS.pool.retry.budget}\``)
  expect(row('expectStatus')).toContain(`\`${DEFAULTS.healthCheck.expectStatus}\``)
  expect(row('stickyCookie.ttl')).toContain('`30d`')
  expect(row('maxBodySize')).toContain('`1mb`')
})
