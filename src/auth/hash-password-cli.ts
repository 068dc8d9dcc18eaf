/**
 * `switchyard hash-password`: reads a password on standard input (the first line; a terminal
 * or a pipe: `echo -n secret | switchyard hash-password` or `switchyard hash-password < file`) and
 * prints the salted scrypt hash for `basicAuth.users[].hash`. The password never appears in the
 * command line (shell history, `ps`).
 */
import type { CliCommand } from '../cli-types.js'
import { hashPassword } from './password.js'

const MAX_PASSWORD = 1024

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk)
    size += chunk.length
    if (size > MAX_PASSWORD * 4) break
  }
  return Buffer.concat(chunks).toString('utf8')
}

export const HASH_PASSWORD_USAGE = `usage: switchyard hash-password
  Read a password on standard input (its first line) and print its salted scrypt hash for
  basicAuth.users[].hash, e.g. printf %s 'secret' | switchyard hash-password`

export function hashPasswordCommand(read: () => Promise<string> = readStdin): CliCommand {
  const command: CliCommand = async (_args, io) => {
    const text = await read()
    // The first line, without its line ending: `echo secret |` and a typed line both work.
    const nl = text.search(/\r?\n/)
    const password = nl < 0 ? text : text.slice(0, nl)
    if (password === '') {
      io.err('switchyard hash-password: no password on standard input')
      return 2
    }
    if (password.length > MAX_PASSWORD) {
      io.err(`switchyard hash-password: password longer than ${MAX_PASSWORD} characters`)
      return 2
    }
    io.out(await hashPassword(password))
    return 0
  }
  // The password comes on stdin, never as an argument (shell history, ps): no options at all.
  command.usage = HASH_PASSWORD_USAGE
  command.options = []
  return command
}
