/**
 * `switchyard explain -c FILE METHOD URL [-H 'name: value']... [--claims=JSON] [--ip=ADDR]`
 * (or `--stream NAME [--sni HOST] [--ip ADDR]` for a layer-4 connection, src/explain/stream.ts):
 * the explain answer from a configuration file, offline. No listener is opened and no health
 * check runs, so every backend counts as healthy with a closed circuit: the answer is about the
 * route table, which is what CI wants to pin down.
 *
 * Exit codes: 0 an answer was printed (whatever the outcome), 1 invalid configuration,
 * 2 usage error.
 */
import { resolve } from 'node:path'
import type { CliCommand } from '../cli-types.js'
import { ConfigError, loadConfigFile } from '../config/index.js'
import { compileRouteTable } from '../routing/route-table.js'
import { loadGeo } from '../net/geo.js'
import type { RuntimeState } from '../runtime-state.js'
import { createPoolRegistry } from '../upstream/index.js'
import { explainRequest, type ExplainInput } from './explain.js'
import { explainStream } from './stream.js'

const USAGE = "usage: switchyard explain -c FILE METHOD URL [-H 'name: value']... [--claims=JSON] [--ip=ADDR]"
const STREAM_USAGE = 'usage: switchyard explain -c FILE --stream NAME [--sni HOST] [--ip ADDR]'
const ABSOLUTE = /^(https?):\/\/([^/?#]*)(.*)$/i

export interface ParsedTarget {
  readonly protocol: 'http' | 'https'
  readonly host: string | undefined
  /** The target as a client sends it (not normalised: explain shows the normalisation). */
  readonly path: string
}

/** Split a URL without normalising its path (WHATWG URL parsing would resolve dots and escapes). */
export function parseTarget(url: string): ParsedTarget | undefined {
  const m = ABSOLUTE.exec(url)
  if (m !== null) return { protocol: m[1]!.toLowerCase() as 'http' | 'https', host: m[2] || undefined, path: m[3] === '' ? '/' : m[3]! }
  if (url.startsWith('/') || url === '*') return { protocol: 'http', host: undefined, path: url }
  return undefined
}

/** `name: value` lines into a header object (repeated names become arrays). */
export function parseHeaderLines(lines: readonly string[]): Record<string, string | string[]> | string {
  const out: Record<string, string | string[]> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon <= 0) return `bad header "${line}": expected 'name: value'`
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    const prev = out[name]
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]
  }
  return out
}

/** `--name VALUE` or `--name=VALUE` among the positional arguments; the rest stay. */
function takeOption(positional: string[], name: string): string | undefined {
  const i = positional.findIndex((p) => p === name || p.startsWith(`${name}=`))
  if (i < 0) return undefined
  const p = positional[i]!
  if (p.length > name.length) {
    positional.splice(i, 1)
    return p.slice(name.length + 1)
  }
  const value = positional[i + 1] ?? ''
  positional.splice(i, 2)
  return value
}

/** The configuration to explain against, or its problems on stderr and undefined. */
async function loadOrReport(file: string, io: Parameters<CliCommand>[1]): Promise<Awaited<ReturnType<typeof loadConfigFile>> | undefined> {
  try {
    return await loadConfigFile(resolve(file))
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const line of e.lines()) io.err(line)
      return undefined
    }
    throw e
  }
}

/** `explain --stream NAME [--sni HOST] [--ip ADDR]`: a layer-4 connection instead of a request. */
async function explainStreamCommand(args: Parameters<CliCommand>[0], io: Parameters<CliCommand>[1]): Promise<number> {
  const positional = [...args.positional]
  const name = takeOption(positional, '--stream')
  const sni = takeOption(positional, '--sni')
  const ip = takeOption(positional, '--ip')
  if (!args.config || !name || positional.length > 0) {
    io.err(STREAM_USAGE)
    return 2
  }
  const settings = await loadOrReport(args.config, io)
  if (settings === undefined) return 1
  const pools = createPoolRegistry(settings.pools)
  try {
    const answer = explainStream({ settings, pools }, { stream: name, ...(sni ? { sni } : {}), ...(ip ? { clientIp: ip } : {}) })
    if (answer === undefined) {
      io.err(`unknown stream "${name}"; configured: ${settings.streams.map((s) => s.name).join(', ') || '(none)'}`)
      return 2
    }
    io.out(JSON.stringify(answer, null, 2))
    return 0
  } finally {
    await pools.close()
  }
}

export const explainCommand: CliCommand = async (args, io) => {
  if (args.positional.some((p) => p === '--stream' || p.startsWith('--stream='))) return explainStreamCommand(args, io)
  const [method, url, ...rest] = args.positional.filter((p) => !p.startsWith('--'))
  if (!args.config || method === undefined || url === undefined || rest.length > 0) {
    io.err(USAGE)
    return 2
  }
  const target = parseTarget(url)
  if (target === undefined) {
    io.err(`bad URL "${url}": expected http://host/path or /path\n${USAGE}`)
    return 2
  }
  const headers = parseHeaderLines(args.headers)
  if (typeof headers === 'string') {
    io.err(headers)
    return 2
  }
  let claims: Record<string, unknown> | undefined
  let clientIp: string | undefined
  for (const flag of args.positional.filter((p) => p.startsWith('--'))) {
    if (flag.startsWith('--claims=')) {
      try {
        const parsed: unknown = JSON.parse(flag.slice('--claims='.length))
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError('not an object')
        claims = parsed as Record<string, unknown>
      } catch {
        io.err('--claims must be a JSON object, e.g. --claims=\'{"sub":"alice"}\'')
        return 2
      }
    } else if (flag.startsWith('--ip=')) clientIp = flag.slice('--ip='.length)
    else {
      io.err(`unknown option ${flag}\n${USAGE}`)
      return 2
    }
  }

  const settings = await loadOrReport(args.config, io)
  if (settings === undefined) return 1
  const host = target.host ?? (typeof headers.host === 'string' ? headers.host : 'localhost')
  // Not started: no health-check timers; connection pools are created lazily and never used.
  const pools = createPoolRegistry(settings.pools)
  try {
    const state: RuntimeState = { version: 1, settings, routes: compileRouteTable(settings.routes, { geo: loadGeo(settings.geoip) }), pools, pipelines: [] }
    const input: ExplainInput = { method, host, path: target.path, headers, protocol: target.protocol, ...(claims ? { claims } : {}), ...(clientIp ? { clientIp } : {}) }
    io.out(JSON.stringify(explainRequest(state, input), null, 2))
    return 0
  } finally {
    await pools.close()
  }
}

explainCommand.usage = `${USAGE}
       ${STREAM_USAGE.slice('usage: '.length)}
  How a request (or a layer-4 connection) would be routed by FILE, offline (no listener,
  every backend healthy).
  -c, --config FILE       the configuration
  -H, --header 'n: v'     a request header (repeatable)
  --claims=JSON           JWT claims to assume for claim-based matches
  --ip=ADDR               the client address to assume
  --stream NAME           a layer-4 connection to this stream instead of a request
  --sni HOST              with --stream: the TLS ClientHello's server name`
explainCommand.options = ['-c', '--config', '-H', '--header', '--claims', '--ip', '--stream', '--sni']
