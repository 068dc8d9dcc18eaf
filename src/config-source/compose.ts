/**
 * One configuration from two places: the local file (what one instance needs to start: server,
 * admin, log, configSource) and the value at the etcd key (everything else). The remote value is
 * parsed like a file (JSON or YAML, duplicate keys refused) and must not carry the local-only
 * sections: an instance's listeners and admin token are its own, not the fleet's.
 */
import { readFile } from 'node:fs/promises'
import { ConfigError, type ConfigProblem } from '../config/errors.js'
import { parseText } from '../config/parse-text.js'

/** Sections only the local file holds. */
export const LOCAL_ONLY = ['server', 'admin', 'log', 'configSource'] as const

type Document = Record<string, unknown>

function isObject(v: unknown): v is Document {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** The local file as a document (before ${ENV} substitution, which normalisation does). */
export async function readLocalDocument(path: string): Promise<Document> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError([{ path, message: `cannot read the configuration file (${(err as NodeJS.ErrnoException).code ?? 'error'})` }])
  }
  const parsed = parseText(text, path.toLowerCase().endsWith('.json') ? 'json' : 'yaml')
  if (!parsed.ok) throw new ConfigError(parsed.problems, path)
  return isObject(parsed.document) ? parsed.document : {}
}

/** The format a stored value is in: JSON when it starts with `{`, YAML otherwise. */
export function formatOf(text: string): 'json' | 'yaml' {
  return text.trimStart().startsWith('{') ? 'json' : 'yaml'
}

/**
 * The remote value as a document; problems name `where` (e.g. `etcd:/switchyard/config`).
 * `allowLocal` lets `config push` accept a whole gateway file, whose local sections it drops.
 */
export function parseRemoteDocument(text: string, where: string, allowLocal = false): Document {
  const parsed = parseText(text, formatOf(text))
  if (!parsed.ok) throw new ConfigError(parsed.problems.map((p) => ({ ...p, path: `${where} ${p.path}`.trim() })))
  if (!isObject(parsed.document)) throw new ConfigError([{ path: where, message: 'must be a mapping (the gateway configuration without server, admin, log and configSource)' }])
  const doc = { ...parsed.document }
  const problems: ConfigProblem[] = []
  for (const k of LOCAL_ONLY) {
    if (!(k in doc)) continue
    if (allowLocal) delete doc[k]
    else problems.push({ path: `${where} ${k}`, message: `belongs in each instance's local file, not in the shared configuration` })
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return doc
}

/** The local file's sections over the remote document. */
export function composeDocument(local: Document, remote: Document): Document {
  const out: Document = { ...remote }
  for (const k of LOCAL_ONLY) if (k in local) out[k] = local[k]
  return out
}
