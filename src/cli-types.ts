/**
 * The CLI's shared shapes: the parsed command line and what a command is. A leaf: src/cli.ts,
 * src/cli-commands.ts and the commands that features contribute (e.g. src/explain/cli.ts) all
 * import it, and it imports none of them.
 */

export interface ParsedArgs {
  readonly command: string | undefined
  readonly config: string | undefined
  readonly headers: string[]
  readonly positional: string[]
}

export interface CliIO {
  out(line: string): void
  err(line: string): void
}

/**
 * A command's exit code: 0 on success. A command may carry its `usage` (printed by
 * `switchyard COMMAND --help`, which never runs the command) and the `options` it accepts
 * (`-c`, `--ip`, ...): any other option is a usage error (exit 2) before the command runs.
 * Without `options`, options other than -c/-H reach the command in `positional`.
 */
export type CliCommand = ((args: ParsedArgs, io: CliIO) => Promise<number>) & {
  usage?: string
  options?: readonly string[]
}
