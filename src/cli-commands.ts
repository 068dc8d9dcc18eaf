/**
 * CLI commands contributed by features (e.g. `explain`), keyed by name, so the CLI core does
 * not grow an import per feature.
 */
import type { CliCommand } from './cli-types.js'
import { explainCommand } from './explain/cli.js'
import { configCommand } from './config-source/config-command.js'
import { hashPasswordCommand } from './auth/hash-password-cli.js'

export const cliCommands: Record<string, CliCommand> = { explain: explainCommand, config: configCommand, 'hash-password': hashPasswordCommand() }
