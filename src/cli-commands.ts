/**
 * CLI commands contributed by features (e.g. `explain`), keyed by name, so the CLI core does
 * not grow an import per feature.
 */
import type { ParsedArgs } from './cli.js'
import { explainCommand } from './explain/cli.js'

export interface CliIO {
  out(line: string): void
  err(line: string): void
}

export type CliCommand = (args: ParsedArgs, io: CliIO) => Promise<number>

export const cliCommands: Record<string, CliCommand> = { explain: explainCommand }
