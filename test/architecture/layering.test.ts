/**
 * The layering of docs/architecture.md, held against the code: the core never names Fastify
 * nor the adapters built on it (plugins/, routes/), the admin API does not import the gateway
 * that builds it, and the CLI modules do not import each other in a circle.
 *
 * Imports are read from the source text (comments blanked, strings kept): static
 * `import … from`, side-effect `import '…'`, `export … from`, `import('…')` (dynamic or in a
 * type), `require('…')` and `declare module '…'`. Type-only imports count: they tie the files
 * together just the same.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(import.meta.dirname, '../..')

const CORE_DIRS = ['src/config', 'src/routing', 'src/upstream', 'src/cache', 'src/proxy', 'src/auth', 'src/ratelimit', 'src/policies', 'src/pipeline', 'src/data-plane', 'src/net', 'src/tls', 'src/log', 'src/tracing'] as const

/** Source trees whose files make up the import graph (tests are not part of it). */
const GRAPH_DIRS = ['src', 'plugins', 'routes'] as const

const FRAMEWORK = /^(?:fastify|fastify-plugin)(?:\/|$)|^@fastify\//
const ADAPTER_DIRS = ['plugins', 'routes']

/** Path relative to the repository root, with forward slashes. */
function rel(path: string): string {
  return relative(ROOT, path).split(sep).join('/')
}

function tsFiles(dir: string): string[] {
  const abs = join(ROOT, dir)
  if (!existsSync(abs)) return []
  const out: string[] = []
  for (const name of readdirSync(abs).sort()) {
    const path = join(abs, name)
    if (statSync(path).isDirectory()) out.push(...tsFiles(rel(path)))
    else if (name.endsWith('.ts')) out.push(path)
  }
  return out
}

const KEYWORDS_BEFORE_REGEX = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await'])

/**
 * The text with comments replaced by spaces; string, template and regex literals are kept
 * as they are (so a `//` inside a URL string is not a comment, nor an `import` in a comment
 * an import).
 */
export function blankComments(src: string): string {
  let out = ''
  let i = 0
  // Brace depth of each open template substitution `${ … }`.
  const templates: number[] = []
  let depth = 0
  let last = '' // last significant token: '' (start), an identifier/keyword, or a punctuator
  const n = src.length
  const readString = (quote: string): void => {
    const start = i++
    while (i < n && src[i] !== quote && src[i] !== '\n') i += src[i] === '\\' ? 2 : 1
    i++
    out += src.slice(start, i)
  }
  const readTemplate = (): void => {
    // From just after '`' or '}' (end of a substitution) to the next '`' or '${'.
    const start = i
    while (i < n) {
      if (src[i] === '\\') i += 2
      else if (src[i] === '`') { i++; break }
      else if (src[i] === '$' && src[i + 1] === '{') { i += 2; templates.push(depth); depth++; break }
      else i++
    }
    out += src.slice(start, i)
  }
  while (i < n) {
    const c = src[i]!
    const d = src[i + 1]
    if (c === '/' && d === '/') {
      const end = src.indexOf('\n', i)
      const stop = end === -1 ? n : end
      out += ' '.repeat(stop - i)
      i = stop
    } else if (c === '/' && d === '*') {
      const end = src.indexOf('*/', i + 2)
      const stop = end === -1 ? n : end + 2
      out += src.slice(i, stop).replace(/[^\n]/g, ' ')
      i = stop
    } else if (c === "'" || c === '"') {
      readString(c)
      last = 'str'
    } else if (c === '`') {
      out += c
      i++
      readTemplate()
      last = 'str'
    } else if (c === '/') {
      const regexAllowed = last === '' || KEYWORDS_BEFORE_REGEX.has(last) || /^[(,=:[!&|?{};+\-*%<>~^]$/.test(last)
      if (!regexAllowed) {
        out += c
        i++
        last = '/'
        continue
      }
      const start = i++
      let inClass = false
      while (i < n && src[i] !== '\n') {
        if (src[i] === '\\') { i += 2; continue }
        if (src[i] === '[') inClass = true
        else if (src[i] === ']') inClass = false
        else if (src[i] === '/' && !inClass) { i++; break }
        i++
      }
      while (i < n && /[a-z]/i.test(src[i]!)) i++
      out += src.slice(start, i)
      last = 'regex'
    } else if (c === '{') {
      depth++
      out += c
      i++
      last = c
    } else if (c === '}') {
      depth--
      out += c
      i++
      if (templates.length > 0 && templates[templates.length - 1] === depth) {
        templates.pop()
        readTemplate()
        last = 'str'
      } else last = c
    } else if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][\w$]*/.exec(src.slice(i, i + 64))!
      out += m[0]
      i += m[0].length
      last = m[0]
    } else if (/\d/.test(c)) {
      const m = /^[\d._xXa-fA-FnoObB]+/.exec(src.slice(i, i + 64))!
      out += m[0]
      i += m[0].length
      last = 'num'
    } else {
      out += c
      i++
      if (!/\s/.test(c)) last = c
    }
  }
  return out
}

export interface ImportRef {
  readonly specifier: string
  readonly line: number
  readonly kind: string
}

const FORMS: readonly [string, RegExp][] = [
  ['import', /\bimport\s+(?:type\s+)?(?:[\w$]+\s*,?\s*)?(?:\*\s*as\s+[\w$]+|\{[^}]*\})?\s*from\s*(['"])([^'"\n]+)\1/g],
  ['import', /\bimport\s+(?:type\s+)?[\w$]+\s+from\s*(['"])([^'"\n]+)\1/g],
  ['import', /\bimport\s*(['"])([^'"\n]+)\1/g],
  ['export from', /\bexport\s+(?:type\s+)?(?:\*(?:\s*as\s+[\w$]+)?|\{[^}]*\})\s*from\s*(['"])([^'"\n]+)\1/g],
  ['import()', /\bimport\s*\(\s*(['"])([^'"\n]+)\1/g],
  ['require()', /\brequire\s*\(\s*(['"])([^'"\n]+)\1/g],
  ['declare module', /\bdeclare\s+module\s*(['"])([^'"\n]+)\1/g],
]

/** Every module specifier the file names, once per place. */
export function importsOf(src: string): ImportRef[] {
  const code = blankComments(src)
  const seen = new Map<number, ImportRef>()
  for (const [kind, re] of FORMS) {
    for (const m of code.matchAll(re)) {
      const at = m.index + m[0].length - m[2]!.length - 2 // the opening quote
      if (seen.has(at)) continue
      seen.set(at, { specifier: m[2]!, line: code.slice(0, at).split('\n').length, kind })
    }
  }
  return [...seen.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r)
}

/** The .ts file a relative specifier names (NodeNext: `./x.js` is `./x.ts`), or undefined. */
function resolveLocal(fromFile: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined
  const base = resolve(dirname(fromFile), specifier)
  const candidates = [base.replace(/\.(m|c)?js$/, '.$1ts'), base, `${base}.ts`, join(base, 'index.ts')]
  return candidates.find((p) => p.endsWith('.ts') && existsSync(p) && statSync(p).isFile())
}

function isUnder(path: string, dir: string): boolean {
  const r = rel(path)
  return r === dir || r.startsWith(`${dir}/`)
}

const sources = new Map<string, string>()
function read(file: string): string {
  let s = sources.get(file)
  if (s === undefined) sources.set(file, (s = readFileSync(file, 'utf8')))
  return s
}

/** Import graph over src/, plugins/ and routes/: repository-relative file → files it imports. */
function importGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>()
  for (const dir of GRAPH_DIRS) {
    for (const file of tsFiles(dir)) {
      const edges = new Set<string>()
      for (const ref of importsOf(read(file))) {
        const target = resolveLocal(file, ref.specifier)
        if (target !== undefined) edges.add(rel(target))
      }
      graph.set(rel(file), edges)
    }
  }
  return graph
}

/** Strongly connected components with more than one file, or a file importing itself. */
function circles(graph: Map<string, Set<string>>): string[][] {
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const out: string[][] = []
  const visit = (v: string): void => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!idx.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        scc.push(w)
      } while (w !== v)
      if (scc.length > 1 || graph.get(v)!.has(v)) out.push(scc.sort())
    }
  }
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v)
  return out
}

/** One shortest import path from `from` to `to` (both included; `from === to` finds a loop), or undefined. */
function pathBetween(graph: Map<string, Set<string>>, from: string, to: string): string[] | undefined {
  const prev = new Map<string, string>()
  const queue = [from]
  for (let q = 0; q < queue.length; q++) {
    const v = queue[q]!
    for (const w of graph.get(v) ?? []) {
      if (w === to) {
        const path = [to]
        for (let u: string | undefined = v; u !== undefined; u = prev.get(u)) path.unshift(u)
        return path
      }
      if (w === from || prev.has(w)) continue
      prev.set(w, v)
      queue.push(w)
    }
  }
  return undefined
}

/** A circle, written as one loop through its files (`a -> b -> … -> a`). */
function describeCircle(graph: Map<string, Set<string>>, scc: readonly string[]): string {
  const loop = pathBetween(graph, scc[0]!, scc[0]!)
  return loop === undefined ? scc.join(', ') : `${loop.join(' -> ')} (circle of ${scc.length}: ${scc.join(', ')})`
}

describe('layering: the core imports no framework and no adapter', () => {
  for (const dir of CORE_DIRS) {
    it(`${dir} imports nothing from fastify, fastify-plugin, @fastify/*, plugins/ or routes/`, () => {
      const files = tsFiles(dir)
      expect(files.length, `${dir} has no .ts files`).toBeGreaterThan(0)
      const offences: string[] = []
      for (const file of files) {
        for (const ref of importsOf(read(file))) {
          const target = resolveLocal(file, ref.specifier) ?? (ref.specifier.startsWith('.') ? resolve(dirname(file), ref.specifier) : undefined)
          const why = FRAMEWORK.test(ref.specifier)
            ? 'the framework'
            : target !== undefined && ADAPTER_DIRS.some((d) => isUnder(target, d))
              ? `an adapter (${rel(target)})`
              : undefined
          if (why !== undefined) offences.push(`${rel(file)}:${ref.line}: ${ref.kind} '${ref.specifier}' names ${why}`)
        }
      }
      expect(offences, `${dir} must not depend on Fastify or the adapters:\n  ${offences.join('\n  ')}\n`).toEqual([])
    })
  }
})

describe('layering: no import circles where the admin API and the CLI meet the core', () => {
  const graph = importGraph()
  const all = circles(graph)

  it('routes/ and src/gateway.ts are in no circle together (routes/ never reaches the gateway)', () => {
    expect(graph.has('src/gateway.ts'), 'src/gateway.ts is missing').toBe(true)
    const offences: string[] = []
    for (const file of [...graph.keys()].filter((f) => f.startsWith('routes/'))) {
      const path = pathBetween(graph, file, 'src/gateway.ts')
      if (path !== undefined) offences.push(path.join(' -> '))
    }
    const shared = all.filter((scc) => scc.includes('src/gateway.ts') && scc.some((f) => f.startsWith('routes/')))
    offences.push(...shared.map((scc) => `circle: ${describeCircle(graph, scc)}`))
    expect(offences, `routes/ must depend on routes/admin-port.ts, not on src/gateway.ts:\n  ${offences.join('\n  ')}\n`).toEqual([])
  })

  it('routes/ has no import circle of its own', () => {
    const inRoutes = all.filter((scc) => scc.some((f) => f.startsWith('routes/')))
    expect(inRoutes.map((scc) => describeCircle(graph, scc)), 'import circles through routes/').toEqual([])
  })

  it('the CLI modules are in no import circle', () => {
    const cli = [...graph.keys()].filter((f) => /^src\/cli[\w-]*\.ts$/.test(f) || /^src\/.+\/cli\.ts$/.test(f))
    expect(cli).toEqual(expect.arrayContaining(['src/cli.ts', 'src/cli-commands.ts']))
    const offending = all.filter((scc) => scc.some((f) => cli.includes(f)))
    expect(offending.map((scc) => describeCircle(graph, scc)), `import circles through the CLI modules (${cli.join(', ')})`).toEqual([])
  })
})

describe('layering: the import reader', () => {
  it('reads every form and ignores comments and strings that only look like imports', () => {
    const src = [
      "import a from 'a'",
      "import type { B } from \"b\"",
      "import c, { d } from './c.js'",
      "import * as e from 'e'",
      "import 'f'",
      "export { g } from './g.js'",
      "export * from 'h'",
      "export type { I } from 'i'",
      "const j = await import('j')",
      "type K = import('k').K",
      "const l = require('l')",
      "declare module 'm' {}",
      "import {",
      "  n,",
      "  type N,",
      "} from 'n'",
      "// import x from 'not-a-comment-import'",
      "/* import y from 'not-a-block-import' */",
      "const url = 'http://x/' // import z from 'nope'",
      "const re = /['\"]/g; const s = `${'x'}` // import w from 'nope2'",
    ].join('\n')
    expect(importsOf(src).map((r) => r.specifier)).toEqual(['a', 'b', './c.js', 'e', 'f', './g.js', 'h', 'i', 'j', 'k', 'l', 'm', 'n'])
    expect(importsOf(src).find((r) => r.specifier === 'n')!.line).toBe(16)
  })
})
