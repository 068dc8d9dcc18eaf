/**
 * Scalars written as the wrong type where the intent is plain: `port: ${PORT:-8080}` is the
 * string "8080" after substitution, `x-version: 2` is a number where a header value is a
 * string. The schema says what each place accepts; only unambiguous conversions are made and
 * everything else is left for validation to report.
 */
import { plainRecord } from './plain-record.js'
type Schema = Readonly<Record<string, unknown>>

const NUMBER = /^[+-]?[0-9]+(\.[0-9]+)?$/

export function coerceToSchema(schema: Schema, value: unknown): unknown {
  if (typeof value === 'string') return coerceString(schema, value)
  if (typeof value === 'number' || typeof value === 'boolean') return coerceToString(schema, value)
  if (Array.isArray(value)) {
    const items = branchOf(schema, 'array')?.['items']
    return isSchema(items) ? value.map((item) => coerceToSchema(items, item)) : value
  }
  if (value !== null && typeof value === 'object') {
    const objectSchema = branchOf(schema, 'object')
    if (objectSchema === undefined) return value
    const out: Record<string, unknown> = plainRecord()
    for (const [key, item] of Object.entries(value)) {
      const sub = propertySchema(objectSchema, key)
      out[key] = sub === undefined ? item : coerceToSchema(sub, item)
    }
    return out
  }
  return value
}

function coerceString(schema: Schema, value: string): unknown {
  const branches = flatten(schema)
  if (branches.some((b) => acceptsString(b, value))) return value
  if (NUMBER.test(value) && branches.some((b) => hasType(b, 'number') || hasType(b, 'integer'))) return Number(value)
  if ((value === 'true' || value === 'false') && branches.some((b) => hasType(b, 'boolean'))) return value === 'true'
  return value
}

function coerceToString(schema: Schema, value: number | boolean): unknown {
  const branches = flatten(schema)
  const kind = typeof value === 'boolean' ? ['boolean'] : ['number', 'integer']
  const acceptsAsIs = branches.some((b) => kind.some((k) => hasType(b, k)) || constOrEnumHas(b, value))
  if (acceptsAsIs) return value
  return branches.some((b) => acceptsString(b, String(value))) ? String(value) : value
}

function acceptsString(branch: Schema, value: string): boolean {
  if (!hasType(branch, 'string')) return constOrEnumHas(branch, value)
  const values = branch['enum']
  if (Array.isArray(values) && !values.includes(value)) return false
  const pattern = branch['pattern']
  if (typeof pattern === 'string' && !new RegExp(pattern).test(value)) return false
  return true
}

function constOrEnumHas(branch: Schema, value: unknown): boolean {
  const values = branch['enum']
  if (Array.isArray(values) && values.includes(value)) return true
  return 'const' in branch && branch['const'] === value
}

function hasType(branch: Schema, type: string): boolean {
  const t = branch['type']
  return t === type || (Array.isArray(t) && t.includes(type))
}

function flatten(schema: Schema): Schema[] {
  const anyOf = schema['anyOf'] ?? schema['oneOf']
  if (!Array.isArray(anyOf)) return [schema]
  return anyOf.filter(isSchema).flatMap(flatten)
}

function branchOf(schema: Schema, type: string): Schema | undefined {
  return flatten(schema).find((b) => hasType(b, type))
}

function propertySchema(schema: Schema, key: string): Schema | undefined {
  const properties = schema['properties']
  if (isSchema(properties) && Object.hasOwn(properties, key) && isSchema(properties[key])) return properties[key]
  const patterns = schema['patternProperties']
  if (isSchema(patterns)) {
    for (const [pattern, sub] of Object.entries(patterns)) if (isSchema(sub) && new RegExp(pattern).test(key)) return sub
  }
  const additional = schema['additionalProperties']
  return isSchema(additional) ? additional : undefined
}

function isSchema(value: unknown): value is Schema {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
