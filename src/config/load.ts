/**
 * Loading and checking configuration files and texts. Nothing here is on the request path:
 * a file is read, validated and normalised once per start or reload.
 */
import { constants } from 'node:fs'
import { access, readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { GatewaySettings } from './model.js'
import type { Env } from './env.js'
import { ConfigError, formatProblem, type ConfigProblem } from './errors.js'
import { analyse, type Analysis, type NormalizeOptions } from './normalize.js'
import { parseText, type ConfigFormat } from './parse-text.js'

export interface ParseOptions extends NormalizeOptions {
  /** Default: json when `source` ends in .json, else yaml. */
  readonly format?: ConfigFormat
}

/** Validated, normalised, frozen settings from an already parsed object (createGateway(object), tests). */
export function normalizeConfig(raw: unknown, options: NormalizeOptions = {}): GatewaySettings {
  const analysis = analyse(raw, options)
  if (analysis.problems.length > 0) throw new ConfigError(analysis.problems, options.source)
  return analysis.settings
}

/** Settings from YAML or JSON text; throws ConfigError listing every problem. */
export function parseConfigText(text: string, options: ParseOptions = {}): GatewaySettings {
  const analysis = analyseText(text, options)
  if (analysis.settings === undefined || analysis.problems.length > 0) throw new ConfigError(analysis.problems, options.source)
  return analysis.settings
}

/** Reads and parses a file (JSON when it ends in .json, else YAML); throws ConfigError. */
export async function loadConfigFile(path: string, env?: Env): Promise<GatewaySettings> {
  const source = resolve(path)
  const text = await readConfigFile(source)
  if (typeof text !== 'string') throw new ConfigError([text], source)
  return parseConfigText(text, fileOptions(source, env))
}

/**
 * What `switchyard check` reports: every problem of the file, plus files it refers to that
 * cannot be read (certificates, keys, CA bundles), which a start would only find later.
 */
export async function checkConfigFile(path: string, env?: Env): Promise<{ ok: true } | { ok: false; lines: string[] }> {
  const source = resolve(path)
  const text = await readConfigFile(source)
  if (typeof text !== 'string') return { ok: false, lines: [formatProblem(text)] }
  const analysis = analyseText(text, fileOptions(source, env))
  const problems = [...analysis.problems]
  const missing = await Promise.all(
    analysis.files.map(async (ref): Promise<ConfigProblem | undefined> => {
      try {
        await access(ref.file, constants.R_OK)
        return undefined
      } catch (error) {
        return { path: ref.path, message: `cannot read ${ref.file} (${(error as NodeJS.ErrnoException).code ?? 'error'})` }
      }
    }),
  )
  for (const problem of missing) if (problem !== undefined) problems.push(problem)
  return problems.length === 0 ? { ok: true } : { ok: false, lines: problems.map(formatProblem) }
}

/** Like analyse(), but text that does not parse has problems and no settings at all. */
function analyseText(text: string, options: ParseOptions): Omit<Analysis, 'settings'> & { settings?: GatewaySettings } {
  const format = options.format ?? (options.source?.toLowerCase().endsWith('.json') ? 'json' : 'yaml')
  const parsed = parseText(text, format)
  if (!parsed.ok) return { problems: parsed.problems, files: [] }
  return analyse(parsed.document, options)
}

function fileOptions(source: string, env: Env | undefined): ParseOptions {
  return { source, baseDir: dirname(source), ...(env !== undefined && { env }) }
}

async function readConfigFile(source: string): Promise<string | ConfigProblem> {
  try {
    return await readFile(source, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error'
    return { path: source, message: `cannot read the configuration file (${code})` }
  }
}
