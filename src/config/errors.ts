/**
 * Errors of the configuration pipeline. One ConfigError carries every problem found in a file,
 * so a user fixes them all in one pass instead of one per run.
 */
import { createError } from '../error-registry.js'

/** One thing wrong with a configuration: where (`routes[2].split[1].pool`) and what. */
export interface ConfigProblem {
  readonly path: string
  readonly message: string
}

const BaseConfigError = createError<'SWITCHYARD_CONFIG_INVALID', [string]>(
  'SWITCHYARD_CONFIG_INVALID',
  'invalid configuration%s',
  500,
)

export class ConfigError extends BaseConfigError {
  readonly problems: readonly ConfigProblem[]
  /** Absolute path of the file, when the configuration came from one. */
  readonly source: string | undefined

  constructor(problems: readonly ConfigProblem[], source?: string) {
    const where = source === undefined ? '' : ` in ${source}`
    const list = problems.map((p) => `\n  ${formatProblem(p)}`).join('')
    super(`${where} (${problems.length} problem${problems.length === 1 ? '' : 's'}):${list}`)
    this.problems = Object.freeze(problems.map((p) => Object.freeze({ path: p.path, message: p.message })))
    this.source = source
  }

  /** One `path: message` line per problem, as `switchyard check` prints them. */
  lines(): string[] {
    return this.problems.map(formatProblem)
  }
}

export function formatProblem(problem: ConfigProblem): string {
  return problem.path === '' ? problem.message : `${problem.path}: ${problem.message}`
}

/** A duration or size string that is not one (parseDuration/parseSize outside the loader). */
export const InvalidUnitError = createError<'SWITCHYARD_INVALID_UNIT', [string]>('SWITCHYARD_INVALID_UNIT', '%s', 500, TypeError)
