/**
 * `switchyard config push -c FILE --etcd URL[,URL…] [--key K]`: validate FILE exactly as a start
 * would and publish it at the key every instance watches (an invalid file is never published).
 * `switchyard config get --etcd URL [--key K]`: print what is live.
 *
 * FILE may be a whole gateway file: its local sections (server, admin, log, configSource) are
 * each instance's own and are left out of what is published.
 */
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { stringify } from 'yaml'
import { ConfigError, normalizeConfig } from '../config/index.js'
import { DEFAULT_ETCD_KEY } from '../config/normalize-config-source.js'
import type { CliCommand } from '../cli-types.js'
import { LOCAL_ONLY, parseRemoteDocument } from './compose.js'
import { EtcdSource, EtcdUnavailableError } from './etcd-source.js'

const USAGE = 'usage: switchyard config push -c FILE --etcd URL[,URL...] [--key K] | switchyard config get --etcd URL[,URL...] [--key K]'

interface Flags {
  readonly sub: string | undefined
  readonly etcd: string | undefined
  readonly key: string
  readonly unknown: readonly string[]
}

function flags(positional: readonly string[]): Flags {
  let sub: string | undefined
  let etcd: string | undefined
  let key = DEFAULT_ETCD_KEY
  const unknown: string[] = []
  for (let i = 0; i < positional.length; i++) {
    const a = positional[i]!
    if (a === '--etcd') etcd = positional[++i]
    else if (a.startsWith('--etcd=')) etcd = a.slice('--etcd='.length)
    else if (a === '--key') key = positional[++i] ?? key
    else if (a.startsWith('--key=')) key = a.slice('--key='.length)
    else if (sub === undefined && !a.startsWith('-')) sub = a
    else unknown.push(a)
  }
  return { sub, etcd, key, unknown }
}

function sourceFor(etcd: string, key: string): EtcdSource {
  return new EtcdSource({ endpoints: etcd.split(',').map((e) => e.trim()).filter(Boolean), key, runtimeKey: `${key}/runtime`, dialTimeout: 3_000 })
}

export const configCommand: CliCommand = async (args, io) => {
  const f = flags(args.positional)
  if (f.unknown.length > 0 || f.etcd === undefined || (f.sub !== 'push' && f.sub !== 'get')) {
    if (f.unknown.length > 0) io.err(`unknown argument: ${f.unknown.join(' ')}`)
    io.err(USAGE)
    return 2
  }
  if (f.sub === 'get') {
    const source = sourceFor(f.etcd, f.key)
    try {
      const text = await source.readConfig()
      if (text === undefined) {
        io.err(`no configuration at etcd key ${f.key}`)
        return 1
      }
      io.out(text.replace(/\n$/, ''))
      return 0
    } catch (err) {
      io.err(`switchyard: ${(err as Error).message}`)
      return 1
    } finally {
      await source.close()
    }
  }
  if (args.config === undefined) {
    io.err('config push needs -c FILE')
    io.err(USAGE)
    return 2
  }
  const file = resolve(args.config)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    io.err(`${file}: cannot read the configuration file (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    return 1
  }
  let published: string
  try {
    const doc = parseRemoteDocument(text, file, true)
    // Validated exactly as an instance will: a start with this document and no local sections.
    normalizeConfig(doc, { source: file, baseDir: dirname(file) })
    const hadLocal = text !== '' && LOCAL_ONLY.some((k) => new RegExp(`^${k}\\s*:|"${k}"\\s*:`, 'm').test(text))
    published = hadLocal ? stringify(doc) : text
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.lines()) io.out(line)
      io.err(`not published: ${file} is invalid`)
      return 1
    }
    throw err
  }
  const source = sourceFor(f.etcd, f.key)
  try {
    await source.writeConfig(published)
    io.out(`published ${file} to etcd key ${f.key}`)
    return 0
  } catch (err) {
    io.err(`switchyard: ${err instanceof EtcdUnavailableError ? err.message : (err as Error).message}`)
    return 1
  } finally {
    await source.close()
  }
}

configCommand.usage = `${USAGE}
  push: validate FILE as a start would and publish it at the key every instance watches.
  get:  print the configuration live in etcd.
  -c, --config FILE   the file to push
  --etcd URL[,URL…]   etcd endpoints
  --key K             the key (default ${DEFAULT_ETCD_KEY})`
configCommand.options = ['-c', '--config', '--etcd', '--key']
