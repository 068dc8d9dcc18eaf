/**
 * Text → plain data, with syntax errors and duplicate keys as problems that carry a line and
 * column. Duplicate keys are errors in both formats: with a silent "last one wins" a typo'd
 * copy of a block would quietly replace the real one.
 */
import { LineCounter, parseDocument } from 'yaml'
import type { ConfigProblem } from './errors.js'

export type ConfigFormat = 'yaml' | 'json'

export type ParseResult = { ok: true; document: unknown } | { ok: false; problems: ConfigProblem[] }

// Aliases can expand a small file into a huge tree ("billion laughs"); real configs need few.
const MAX_ALIAS_COUNT = 100

export function parseText(text: string, format: ConfigFormat): ParseResult {
  const yaml = parseYaml(text)
  if (format === 'yaml') return yaml
  try {
    const document: unknown = JSON.parse(text)
    // JSON.parse keeps the last of duplicate keys; the YAML parser (JSON is YAML 1.2) finds them.
    if (!yaml.ok) return { ok: false, problems: yaml.problems.filter((p) => p.message.startsWith('duplicate key')) }
    return { ok: true, document }
  } catch (error) {
    return { ok: false, problems: [jsonProblem(text, error as Error)] }
  }
}

function parseYaml(text: string): ParseResult {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { uniqueKeys: true, merge: true, lineCounter, prettyErrors: true })
  if (doc.errors.length > 0) {
    // One syntax error often causes more at the same place; the first is the one to fix.
    const seenLines = new Set<number>()
    const errors = doc.errors.filter((error) => {
      const line = error.linePos?.[0].line ?? 0
      if (seenLines.has(line)) return false
      seenLines.add(line)
      return true
    })
    return {
      ok: false,
      problems: errors.map((error) => {
        const position = error.linePos?.[0]
        const path = position === undefined ? 'yaml' : `line ${position.line}, column ${position.col}`
        const first = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
        const message = error.code === 'DUPLICATE_KEY' ? `duplicate key: ${first.toLowerCase()}` : first
        return { path, message }
      }),
    }
  }
  try {
    return { ok: true, document: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) }
  } catch (error) {
    return { ok: false, problems: [{ path: 'yaml', message: (error as Error).message }] }
  }
}

function jsonProblem(text: string, error: Error): ConfigProblem {
  const message = error.message
    .replace(/\s*\(line \d+ column \d+\)$/, '')
    .replace(/ in JSON at position \d+/, '')
    .replace(/, ".*" is not valid JSON$/s, '')
  const position = /at position (\d+)/.exec(error.message)
  if (position === null) return { path: 'json', message }
  const before = text.slice(0, Number(position[1]))
  const line = before.split('\n').length
  const col = Number(position[1]) - before.lastIndexOf('\n')
  return { path: `line ${line}, column ${col}`, message }
}
