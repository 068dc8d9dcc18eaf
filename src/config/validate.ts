/**
 * Schema validation of the raw document with ajv (all errors at once), and the translation of
 * ajv's errors into `path: message` problems people can act on. Union types ("a URL or
 * { url, weight }") make ajv report every branch's failure; only the branch the value was
 * evidently meant for is kept, or one summary when none is.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import type { ConfigProblem } from './errors.js'
import { childPath, displayPath, indexPath, ROOT } from './paths.js'
import { GatewayFileSchema } from './schema.js'

let compiled: ValidateFunction | undefined

function validator(): ValidateFunction {
  if (compiled === undefined) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false, allowUnionTypes: true })
    // Annotation only: the message used below when the schema it sits on fails.
    ajv.addKeyword({ keyword: 'errorMessage', schemaType: 'string' })
    compiled = ajv.compile(GatewayFileSchema)
  }
  return compiled
}

/** Problems of `document` against the file schema; empty when it conforms. */
export function validateDocument(document: unknown): ConfigProblem[] {
  const validate = validator()
  if (validate(document)) return []
  const errors = relevantErrors(validate.errors ?? [])
  const problems: ConfigProblem[] = []
  const seen = new Set<string>()
  for (const error of errors) {
    const problem = toProblem(error, document)
    const key = `${problem.path}\u0000${problem.message}`
    if (seen.has(key)) continue
    seen.add(key)
    problems.push(problem)
  }
  return problems
}

type Schema = Readonly<Record<string, unknown>>

function relevantErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  const suppressed = new Set<ErrorObject>()
  const unions = errors.filter((e) => e.keyword === 'anyOf').sort((a, b) => a.schemaPath.length - b.schemaPath.length)
  for (const union of unions) {
    if (suppressed.has(union)) continue
    const prefix = `${union.schemaPath}/`
    const branches = Array.isArray(union.schema) ? (union.schema as Schema[]) : []
    const chosen = chooseBranch(branches, union.data, union.parentSchema)
    for (const error of errors) {
      if (error === union || !error.schemaPath.startsWith(prefix)) continue
      const index = Number(error.schemaPath.slice(prefix.length).split('/')[0])
      if (index !== chosen) suppressed.add(error)
    }
    if (chosen !== undefined) suppressed.add(union)
  }
  // A value outside an enum of strings fails both `type` and `enum`; the enum says more.
  for (const error of errors) {
    if (error.keyword !== 'enum') continue
    for (const other of errors) {
      if (other.keyword === 'type' && other.instancePath === error.instancePath && other.parentSchema === error.parentSchema) {
        suppressed.add(other)
      }
    }
  }
  return errors.filter((e) => !suppressed.has(e))
}

/** The branch a value was meant for: the only one of its JSON type; scalars with a summary get the summary. */
function chooseBranch(branches: readonly Schema[], data: unknown, holder: Schema | undefined): number | undefined {
  const type = jsonType(data)
  const isContainer = type === 'object' || type === 'array'
  if (!isContainer && typeof holder?.['errorMessage'] === 'string') return undefined
  const candidates = branches.flatMap((branch, i) => (acceptsType(branch, type, data) ? [i] : []))
  return candidates.length === 1 ? candidates[0] : undefined
}

function jsonType(data: unknown): string {
  if (data === null) return 'null'
  if (Array.isArray(data)) return 'array'
  return typeof data
}

function acceptsType(branch: Schema, type: string, data: unknown): boolean {
  const declared = branch['type']
  const types = Array.isArray(declared) ? declared : declared === undefined ? [] : [declared]
  if (types.includes(type)) return true
  return type === 'number' && Number.isInteger(data) && types.includes('integer')
}

function toProblem(error: ErrorObject, document: unknown): ConfigProblem {
  const problem = describe(error, document)
  return { path: displayPath(problem.path), message: problem.message }
}

function describe(error: ErrorObject, document: unknown): ConfigProblem {
  const path = instancePath(error.instancePath, document)
  const summary = typeof error.parentSchema?.['errorMessage'] === 'string' ? error.parentSchema['errorMessage'] : undefined
  const params = error.params as Record<string, unknown>
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params['additionalProperty'])
      const known = Object.keys((error.parentSchema?.['properties'] as Schema | undefined) ?? {})
      const guess = closest(key, known)
      return { path: childPath(path, key), message: `unknown key "${key}"${guess === undefined ? '' : `; did you mean "${guess}"?`}` }
    }
    case 'required':
      return { path: childPath(path, String(params['missingProperty'])), message: 'is required' }
    case 'type':
      if (error.data === null) return { path, message: 'has no value: give one, or remove the key' }
      return { path, message: summary ?? `must be ${describeTypes(String(params['type']).split(','))}` }
    case 'pattern':
      return { path, message: summary ?? `must match ${String(params['pattern'])}` }
    case 'enum': {
      if (summary !== undefined) return { path, message: summary }
      if (error.data === 'none' && /\.algorithms\[\d+\]$/.test(path)) {
        return { path, message: '"none" is not allowed: it would accept unsigned tokens' }
      }
      const allowed = (params['allowedValues'] as unknown[]).map(String).join(', ')
      return { path, message: `must be one of ${allowed}` }
    }
    case 'const':
      return { path, message: `must be ${JSON.stringify(params['allowedValue'])}` }
    case 'minimum':
      return { path, message: `must be at least ${String(params['limit'])}` }
    case 'maximum':
      return { path, message: `must be at most ${String(params['limit'])}` }
    case 'exclusiveMinimum':
      return { path, message: `must be greater than ${String(params['limit'])}` }
    case 'exclusiveMaximum':
      return { path, message: `must be less than ${String(params['limit'])}` }
    case 'minItems': {
      const n = Number(params['limit'])
      return { path, message: n === 1 ? 'must not be empty' : `must have at least ${n} items` }
    }
    case 'minLength': {
      const n = Number(params['limit'])
      return { path, message: n === 1 ? 'must not be empty' : `must be at least ${n} characters` }
    }
    case 'anyOf': {
      const branches = Array.isArray(error.schema) ? (error.schema as Schema[]) : []
      return { path, message: summary ?? `must be ${describeBranches(branches)}` }
    }
    default:
      return { path, message: error.message ?? `fails ${error.keyword}` }
  }
}

/** JSON pointer → `routes[2].split[1].pool`, walking the document to tell list indexes from keys. */
function instancePath(pointer: string, document: unknown): string {
  if (pointer === '') return ROOT
  let path = ROOT
  let node: unknown = document
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replaceAll('~1', '/').replaceAll('~0', '~')
    if (Array.isArray(node)) {
      const index = Number(token)
      path = indexPath(path, index)
      node = node[index]
    } else {
      path = childPath(path, token)
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[token] : undefined
    }
  }
  return path
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'true or false',
  object: 'a mapping of keys to values',
  array: 'a list',
  null: 'empty',
}

function describeTypes(types: readonly string[]): string {
  return types.map((t) => TYPE_NAMES[t] ?? t).join(' or ')
}

function describeBranches(branches: readonly Schema[]): string {
  const parts = branches.map((b) => {
    if (Array.isArray(b['enum'])) return (b['enum'] as unknown[]).map(String).join(', ')
    const t = b['type']
    return describeTypes(Array.isArray(t) ? (t as string[]) : [String(t)])
  })
  return [...new Set(parts)].join(' or ')
}

/** The known key nearest to a misspelt one, when it is near enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined
}

/** Edit distance counting a swap of neighbours as one edit (`prot` → `port`), the commonest typo. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i])
  for (let j = 0; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}
