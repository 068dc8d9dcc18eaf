/**
 * `${NAME}` and `${NAME:-default}` substitution. It runs on string scalars of the already
 * parsed document, so a variable's value is always one string: it can never add keys, lists
 * or YAML syntax, whatever characters it holds. `$${` writes a literal `${`. The names of header
 * templates (`${client_ip}`, `${request_id}`, `${host}`, `${path}`, `${apikey.name}`, `${claim.NAME}`)
 * are not variables: they stay as written, for the request path to fill in.
 */
import { plainRecord } from './plain-record.js'
import type { ConfigProblem } from './errors.js'
import { childPath, indexPath } from './paths.js'

export type Env = Readonly<Record<string, string | undefined>>

// `$${` (escape) or `${NAME}` / `${NAME:-default}`; anything else after `${` is an error.
const TOKEN = /\$\$\{|\$\{([^}]*)\}|\$\{/g
const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s
/** The names of header templates, kept for the request path (lower-case, unlike environment variables by convention). */
const HEADER_TEMPLATE = /^(client_ip|request_id|host|path|apikey\.name|claim\.[A-Za-z0-9_.:-]+)$/

/** A copy of `value` with every string substituted; problems are appended to `problems`. */
export function substituteEnv(value: unknown, env: Env, problems: ConfigProblem[], path = ''): unknown {
  if (typeof value === 'string') return substituteString(value, env, problems, path)
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, problems, indexPath(path, i)))
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = plainRecord()
    for (const [key, item] of Object.entries(value)) out[key] = substituteEnv(item, env, problems, childPath(path, key))
    return out
  }
  return value
}

function substituteString(text: string, env: Env, problems: ConfigProblem[], path: string): string {
  if (!text.includes('${')) return text
  return text.replace(TOKEN, (token: string, body: string | undefined) => {
    if (token === '$${') return '${'
    if (body === undefined) {
      problems.push({ path, message: 'unterminated "${": write ${NAME}, ${NAME:-default}, or $${ for a literal' })
      return token
    }
    // Header templates (`${client_ip}`, `${claim.sub}`, ...; src/policies/header-templates.ts) are
    // filled per request, not from the environment: left as written.
    if (HEADER_TEMPLATE.test(body)) return token
    const ref = REFERENCE.exec(body)
    if (ref === null) {
      problems.push({ path, message: `invalid substitution "${token}": write \${NAME} or \${NAME:-default}` })
      return token
    }
    const name = ref[1]!
    const fallback = ref[2]
    const current = env[name]
    // Shell semantics: `:-` also replaces a variable that is set but empty.
    if (fallback !== undefined) return current === undefined || current === '' ? fallback : current
    if (current === undefined) {
      problems.push({ path, message: `environment variable ${name} is not set` })
      return ''
    }
    return current
  })
}
