/**
 * What each built-in command accepts, its `--help` text, and the checks that run before any
 * command does: `switchyard start --help` prints help and starts nothing; an option the command
 * does not know is one line on stderr and exit 2 (a typo such as `--conifg` must not silently
 * start the gateway on another file).
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { CliCommand } from './cli-types.js'

export interface CommandHelp {
  readonly usage: string
  /** Options the command accepts, long and short forms (`--name=value` is matched by name). */
  readonly options: readonly string[]
}

const CONFIG = ['-c', '--config'] as const

export const BUILTIN_COMMANDS: Readonly<Record<string, CommandHelp>> = {
  start: {
    usage: `usage: switchyard start [-c FILE]
  Run the gateway on FILE until SIGTERM/SIGINT; SIGHUP reloads FILE.
  -c, --config FILE   the configuration (default ./config/gateway.yaml when it exists in the
                      working directory, else the package's demo configuration)`,
    options: CONFIG,
  },
  check: {
    usage: `usage: switchyard check [-c FILE]
  Validate FILE: prints "ok" (exit 0) or one "path: message" line per problem (exit 1).
  -c, --config FILE   the configuration (default as for start)`,
    options: CONFIG,
  },
  demo: {
    usage: `usage: switchyard demo [-c FILE]
  Start the demo upstreams on 127.0.0.1:9001-9302 and the gateway in front of them; prints the
  URLs, an \`export TOKEN=...\` line and curl lines to try.
  -c, --config FILE   the configuration (default as for start)`,
    options: CONFIG,
  },
  schema: { usage: 'usage: switchyard schema\n  Print the configuration JSON Schema.', options: [] },
}

/** The usage of `command` (built in or contributed), or undefined when it has none. */
export function commandUsage(command: string, extra: Readonly<Record<string, CliCommand>>): string | undefined {
  return BUILTIN_COMMANDS[command]?.usage ?? extra[command]?.usage
}

/** The options `command` accepts, or undefined when it takes whatever it is given. */
function commandOptions(command: string, extra: Readonly<Record<string, CliCommand>>): readonly string[] | undefined {
  return BUILTIN_COMMANDS[command]?.options ?? extra[command]?.options
}

const VALUE_OPTIONS = new Set(['-c', '--config', '-H', '--header'])

/** True when argv (after the command) asks for help. */
export function wantsHelp(rest: readonly string[]): boolean {
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!
    if (VALUE_OPTIONS.has(a)) i++
    else if (a === '--help' || a === '-h') return true
  }
  return false
}

/**
 * The first option in argv (after the command) that `command` does not accept, or undefined.
 * A value following -c or -H is not an option, whatever it looks like.
 */
export function unknownOption(command: string, rest: readonly string[], extra: Readonly<Record<string, CliCommand>>): string | undefined {
  const accepted = commandOptions(command, extra)
  if (accepted === undefined) return undefined
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!
    if (a.length < 2 || a[0] !== '-') continue
    const name = a.startsWith('--') && a.includes('=') ? a.slice(0, a.indexOf('=')) : a
    if (!accepted.includes(name)) return a
    if (VALUE_OPTIONS.has(a)) i++
  }
  return undefined
}

/**
 * The configuration file when -c is not given: ./config/gateway.yaml in the working directory
 * when it exists (an operator runs `switchyard start` from their deployment's directory), else
 * the package's own demo configuration.
 */
export function defaultConfigFile(cwd: string, packageDefault: string): string {
  const local = join(resolve(cwd), 'config', 'gateway.yaml')
  return existsSync(local) ? local : packageDefault
}
