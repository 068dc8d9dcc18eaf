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

/** A command's exit code: 0 on success. */
export type CliCommand = (args: ParsedArgs, io: CliIO) => Promise<number>
