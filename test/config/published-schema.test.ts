import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { parse } from 'yaml'
import { describe, expect, test } from 'vitest'
import { gatewayJsonSchema } from '../../src/config/index.js'

const SCHEMA_FILE = join(import.meta.dirname, '..', '..', 'config', 'gateway.schema.json')

type Node = Record<string, unknown>

/** Every object schema in the tree, with its JSON-pointer-ish location. */
function objectSchemas(node: unknown, at = '#', out: [string, Node][] = []): [string, Node][] {
  if (Array.isArray(node)) node.forEach((n, i) => objectSchemas(n, `${at}/${i}`, out))
  else if (node !== null && typeof node === 'object') {
    const schema = node as Node
    if (schema['type'] === 'object') out.push([at, schema])
    for (const [key, value] of Object.entries(schema)) objectSchemas(value, `${at}/${key}`, out)
  }
  return out
}

describe('config/gateway.schema.json', () => {
  test('the committed file equals the schema generated from the source (run npx node scripts/write-schema.mjs)', async () => {
    const committed = await readFile(SCHEMA_FILE, 'utf8')
    expect(committed).toBe(JSON.stringify(gatewayJsonSchema(), null, 2) + '\n')
  })

  test('names itself and its draft', () => {
    expect(gatewayJsonSchema()).toMatchObject({
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: expect.stringMatching(/\S/),
      title: 'Switchyard gateway configuration',
    })
  })

  test('refuses unknown keys everywhere except in maps of user-chosen names', () => {
    const open = objectSchemas(gatewayJsonSchema())
      .filter(([, schema]) => schema['additionalProperties'] !== false && schema['patternProperties'] === undefined)
      .map(([at]) => at)
    expect(open).toEqual([])
  })

  test('describes every key, so editors can show what it does', () => {
    const undocumented: string[] = []
    for (const [at, schema] of objectSchemas(gatewayJsonSchema())) {
      for (const [key, property] of Object.entries((schema['properties'] as Record<string, Node> | undefined) ?? {})) {
        if (typeof property['description'] !== 'string') undocumented.push(`${at}/properties/${key}`)
      }
    }
    expect(undocumented).toEqual([])
  })

  test('a plain JSON Schema validator (as editors use) accepts the demo file', async () => {
    const ajv = new Ajv({ allErrors: true, strict: false })
    const validate = ajv.compile(JSON.parse(await readFile(SCHEMA_FILE, 'utf8')))
    const demo = parse(await readFile(join(SCHEMA_FILE, '..', 'gateway.yaml'), 'utf8')) as Node
    // Editors see `port: ${SWITCHYARD_PORT:-8080}` unsubstituted; it must not be flagged.
    expect(validate(demo), JSON.stringify(validate.errors)).toBe(true)
    expect(validate({ ...demo, server: { prot: 1 } })).toBe(false)
    expect(validate({ server: { port: 'eighty' } })).toBe(false)
    expect(validate({ server: { port: '${PORT}', requestTimeout: '${T:-5s}' } })).toBe(true)
  })
})
