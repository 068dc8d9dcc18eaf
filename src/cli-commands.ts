/**
 * CLI commands contributed by features (e.g. `explain`), keyed by name, so the CLI core does
 * not grow an import per feature.
 */
import type { CliCommand } from './cli-types.js'
import { explainCommand } from './explain/cli.js'

export const cliCommands: Record<string, CliCommand> = { explain: explainCommand }
