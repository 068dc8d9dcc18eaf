/**
 * `switchyard` command line: start, check, demo, explain, schema, --version.
 * Exit codes: 0 ok, 1 invalid configuration or failed command, 2 usage error.
 */
import { resolve } from 'node:path'
import { createSigner } from 'fast-jwt'
import type { Logger } from 'pino'
import { gatewayJsonSchema, loadConfigFile, ConfigError, type GatewaySettings } from './config/index.js'
import { createGatewayLogger } from './log/logger.js'
import { checkGatewayFile } from './check.js'
import { createGateway, type Gateway } from './gateway.js'
import { defaultConfigPath, packageVersion } from './package-root.js'
import { commandUsage, defaultConfigFile, unknownOption, wantsHelp } from './cli-options.js'
import { startDemoUpstreams, type RunningDemo } from './demo-upstreams.js'
import { cliCommands } from './cli-commands.js'
import { ListenError } from './listen-error.js'
import { createSupervisor, type Supervisor } from './workers/supervisor.js'
import { resolveWorkerCount } from './workers/cores.js'
import { readLocalDocument } from './config-source/compose.js'
import { prepareEtcdStart, type EtcdStart } from './config-source/etcd-sync.js'
import { EtcdUnavailableError } from './config-source/etcd-source.js'
import type { ParsedArgs } from './cli-types.js'

const USAGE = `usage:
  switchyard start [-c FILE]        run the gateway (default ./config/gateway.yaml)
  switchyard check [-c FILE]        validate FILE: "ok", or one "path: message" line per problem
  switchyard demo                   demo upstreams + the gateway on config/gateway.yaml
  switchyard explain -c FILE METHOD URL [-H 'name: value']...   how a request would be routed
  switchyard explain -c FILE --stream NAME [--sni HOST]       where a layer-4 connection would go
  switchyard schema                 print the configuration JSON Schema
  switchyard config push -c FILE --etcd URL [--key K]   validate FILE and publish it to etcd
  switchyard config get --etcd URL [--key K]            print the configuration live in etcd
  switchyard hash-password          read a password on stdin, print its hash for basicAuth
  switchyard --version              Switchyard's version and the Node that runs it
  switchyard COMMAND --help         what COMMAND accepts (runs nothing)`

export function parseArgs(argv: readonly string[]): ParsedArgs {
  let command: string | undefined
  let config: string | undefined
  const headers: string[] = []
  const positional: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '-c' || a === '--config') config = argv[++i]
    else if (a.startsWith('--config=')) config = a.slice('--config='.length)
    else if (a === '-H' || a === '--header') headers.push(argv[++i] ?? '')
    else if (command === undefined) command = a
    else positional.push(a)
  }
  return { command, config, headers, positional }
}

/** True when this Node is older than what the project supports (it still runs, with a warning). */
export function nodeTooOld(version = process.versions.node): boolean {
  const [maj, min] = version.split('.').map(Number) as [number, number]
  return maj < 22 || (maj === 22 && min < 12)
}

/** The start-up warning on a Node older than the project supports; true when it was logged. */
export function warnIfOldNode(log: Pick<Logger, 'warn'>, version = process.versions.node): boolean {
  if (!nodeTooOld(version)) return false
  log.warn({ node: `v${version}` }, 'Node older than 22.12: unsupported, missing HTTP parser fixes; use Node 24 LTS')
  return true
}

/**
 * The pino logger of `log.level` and `log.file` (stdout by default), written asynchronously: a
 * synchronous write per line would block the event loop; under load sonic-boom coalesces lines
 * into fewer writes. Flushed on exit. Access lines without `log.access.file` share it.
 */
function makeLogger(settings: GatewaySettings): Logger {
  return createGatewayLogger(settings.log).logger
}

/** The settings of FILE and a logger made from them, or the problem lines on stderr and undefined. */
async function loadWithLogger(path: string, err: (s: string) => void): Promise<{ settings: GatewaySettings; log: Logger } | undefined> {
  try {
    const settings = await loadConfigFile(path)
    return { settings, log: makeLogger(settings) }
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const line of e.lines()) err(line)
      return undefined
    }
    throw e
  }
}

/**
 * Binds every listener; a failure (port in use, unreadable certificate) is one line on stderr
 * (`switchyard: cannot listen on 127.0.0.1:9901 (admin): address already in use`), no stack,
 * and false: listen() has closed whatever it had opened, so the process can exit 1.
 */
async function listenOrExplain(gateway: Gateway, log: Logger, err: (s: string) => void): Promise<boolean> {
  try {
    await gateway.listen()
    return true
  } catch (e) {
    if (e instanceof ListenError) {
      log.error({ listener: e.listener, host: e.host, port: e.port, reason: e.reason }, e.message)
      err(`switchyard: ${e.message}`)
      return false
    }
    if (e instanceof ConfigError) {
      for (const line of e.lines()) err(`switchyard: cannot start: ${line}`)
      return false
    }
    throw e
  }
}

/** A start that cannot get a valid configuration: its problems on stderr and exit 1 (anything else is a bug: thrown). */
function startFailure(e: unknown, err: (s: string) => void): number {
  if (e instanceof ConfigError) {
    for (const line of e.lines()) err(line)
    return 1
  }
  if (e instanceof EtcdUnavailableError) {
    err(`switchyard: cannot start: ${e.message}`)
    return 1
  }
  throw e
}

/** `start` with several worker threads: the main thread supervises, the workers serve. */
async function runWorkers(path: string, local: GatewaySettings, count: number, log: Logger, err: (s: string) => void): Promise<number> {
  let supervisor: Supervisor
  let etcd: EtcdStart | undefined
  try {
    if (local.configSource !== undefined) etcd = await prepareEtcdStart(path, local)
    const load = etcd ? async () => (await etcd!.loadConfig()) as Record<string, unknown> : () => readLocalDocument(path)
    supervisor = await createSupervisor({ document: await load(), count, configPath: path, logger: log, loadDocument: load })
  } catch (e) {
    await etcd?.close()
    return startFailure(e, err)
  }
  try {
    await supervisor.listen()
  } catch (e) {
    await etcd?.close()
    err(`switchyard: ${(e as Error).message}`)
    return 1
  }
  await etcd?.attach(supervisor.syncTarget, log)
  return runGateway(supervisor, log, etcd ? () => etcd!.close() : undefined)
}

/**
 * SIGHUP's default action ends the process: one that arrives while the gateway is still
 * starting (worker threads binding, etcd being read) must not kill it. Ignored until
 * runGateway installs the reload handler.
 */
function ignoreEarlySighup(): void {
  process.stderr.write('switchyard: SIGHUP during start-up ignored (nothing to reload yet)\n')
}

/** Run until SIGTERM/SIGINT; SIGHUP reloads. Resolves with the exit code. */
async function runGateway(gateway: Pick<Gateway, 'reload' | 'close' | 'settings'>, log: Logger, onStop?: () => Promise<void>): Promise<number> {
  return await new Promise<number>((resolveExit) => {
    const reload = (): void => {
      void gateway.reload().then((r) => {
        if (!r.ok) log.warn({ problems: r.problems }, 'SIGHUP reload rejected')
      })
    }
    const stop = (signal: string): void => {
      log.info({ signal, shutdownDelay: gateway.settings.server.shutdownDelay }, 'stopping: draining in-flight requests')
      process.off('SIGHUP', reload)
      void gateway
        .close()
        .then(() => onStop?.())
        .then(
          () => resolveExit(0),
          (err) => {
            log.error({ err }, 'error while stopping')
            resolveExit(1)
          },
        )
    }
    process.on('SIGHUP', reload)
    process.off('SIGHUP', ignoreEarlySighup)
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
}

export async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv)
  const out = (s: string): void => void process.stdout.write(s + '\n')
  const err = (s: string): void => void process.stderr.write(s + '\n')
  const command = args.command
  const at = command === undefined ? -1 : argv.indexOf(command)
  const rest = at < 0 ? [] : [...argv.slice(0, at), ...argv.slice(at + 1)]
  if (command !== undefined && !command.startsWith('-') && command !== 'help' && command !== 'version') {
    const usage = commandUsage(command, cliCommands)
    if (wantsHelp(rest)) {
      // Help never runs the command: `start --help` must not start a gateway.
      out(usage ?? USAGE)
      return usage === undefined && !(command in cliCommands) ? 2 : 0
    }
    const bad = unknownOption(command, rest, cliCommands)
    if (bad !== undefined) {
      err(`switchyard ${command}: unknown option ${bad} (see switchyard ${command} --help)`)
      return 2
    }
  }
  const configPath = (): string => resolve(args.config ?? defaultConfigFile(process.cwd(), defaultConfigPath))

  switch (args.command) {
    case '--version':
    case '-v':
    case 'version':
      out(`switchyard ${packageVersion} (node ${process.version})`)
      return 0
    case undefined:
    case '--help':
    case '-h':
    case 'help': {
      const topic = args.command === 'help' ? args.positional[0] : undefined
      out((topic !== undefined ? commandUsage(topic, cliCommands) : undefined) ?? USAGE)
      return args.command === undefined ? 2 : 0
    }
    case 'schema':
      out(JSON.stringify(gatewayJsonSchema(), null, 2))
      return 0
    case 'check': {
      const result = await checkGatewayFile(configPath())
      if (result.ok) {
        // Warnings go to stderr: stdout stays `ok` for scripts, and the exit code stays 0.
        for (const w of result.warnings ?? []) err(w)
        out('ok')
        return 0
      }
      for (const line of result.lines) out(line)
      return 1
    }
    case 'start': {
      const path = configPath()
      process.on('SIGHUP', ignoreEarlySighup)
      const loaded = await loadWithLogger(path, err)
      if (loaded === undefined) return 1
      const { settings, log } = loaded
      warnIfOldNode(log)
      // server.workers > 1: worker threads share the listeners (src/workers/supervisor.ts).
      const count = resolveWorkerCount(settings.server.workers)
      if (count > 1) return runWorkers(path, settings, count, log, err)
      let gateway: Gateway
      // With configSource.etcd the local file holds what this instance needs to start; the
      // rest is read from etcd (one line and exit 1 when it cannot be: nothing to serve yet).
      let etcd: EtcdStart | undefined
      try {
        if (settings.configSource !== undefined) etcd = await prepareEtcdStart(path, settings)
        gateway = await createGateway(etcd?.settings ?? settings, { configPath: path, logger: log, ...(etcd ? { loadConfig: etcd.loadConfig } : {}) })
      } catch (e) {
        await etcd?.close()
        return startFailure(e, err)
      }
      if (!(await listenOrExplain(gateway, log, err))) {
        await etcd?.close()
        return 1
      }
      await etcd?.attach(gateway, log)
      return runGateway(gateway, log, etcd ? () => etcd.close() : undefined)
    }
    case 'demo': {
      const path = configPath()
      const loaded = await loadWithLogger(path, err)
      if (loaded === undefined) return 1
      const { settings, log } = loaded
      warnIfOldNode(log)
      let demo: RunningDemo
      try {
        demo = await startDemoUpstreams()
      } catch (e) {
        err(`demo: cannot start the demo upstreams on ports 9001-9302: ${(e as Error).message}`)
        return 1
      }
      const gateway = await createGateway(settings, { configPath: path, logger: log })
      if (!(await listenOrExplain(gateway, log, err))) {
        await demo.close()
        return 1
      }
      printDemoBanner(gateway, err)
      // listen() already ran; runGateway's listen would double-bind, so wait for signals here.
      return await new Promise<number>((resolveExit) => {
        const reload = (): void => void gateway.reload()
        process.on('SIGHUP', reload)
        const stop = (): void => {
          process.off('SIGHUP', reload)
          // gateway.close() goes unready first and waits server.shutdownDelay.
          void gateway.close().then(() => demo.close()).then(() => resolveExit(0))
        }
        process.once('SIGTERM', stop)
        process.once('SIGINT', stop)
      })
    }
    default: {
      const extra = cliCommands[args.command]
      if (extra) return extra(args, { out, err })
      err(`switchyard: unknown ${args.command.startsWith('-') ? 'option' : 'command'} ${args.command} (see switchyard --help)`)
      return 2
    }
  }
}

/** A demo token signed with the demo's HS256 secret (only when the jwt section uses a secret). */
function demoToken(gateway: Gateway): string | undefined {
  const jwt = gateway.settings.jwt
  if (!jwt?.secret || !jwt.algorithms.includes('HS256')) return undefined
  return createSigner({ key: jwt.secret, algorithm: 'HS256', expiresIn: 3600_000 })({ sub: 'alice', scope: 'users:read' })
}

function printDemoBanner(gateway: Gateway, write: (s: string) => void): void {
  const u = gateway.url
  const a = gateway.adminUrl
  const admin = gateway.settings.admin
  const auth = admin !== false && admin.token ? ` -H 'Authorization: Bearer ${admin.token}'` : ''
  const token = demoToken(gateway)
  write(
    [
      '',
      `Switchyard demo is running (node ${process.version})`,
      `  gateway:   ${u}`,
      a ? `  dashboard: ${a}/` : '  dashboard: (admin disabled)',
      `  reload:    kill -HUP ${process.pid}   (this process; the pid of \`npm start\` is npm's)`,
      '',
      'Try:',
      `  curl -i ${u}/api/users/7                                   # 90/10 split users-v1/users-v2`,
      `  curl -i -H 'x-user-id: alice' ${u}/api/users/me            # sticky cohort by header`,
      `  curl -i -H 'x-switchyard-pool: users-v2' ${u}/api/users/1   # override to the canary`,
      `  curl -i ${u}/api/orders/42                                  # cached: see Cache-Status and Age`,
      `  curl -i ${u}/api/account                                    # needs a JWT: 401`,
      token ? `  export TOKEN=${token}   # a demo JWT (sub alice, 1 h), signed with the demo secret` : '',
      token ? `  curl -i -H "Authorization: Bearer $TOKEN" ${u}/api/account` : '',
      `  curl -i ${u}/nothing-here                                   # 404 JSON`,
      a ? `  curl -s${auth} ${a}/api/pools` : '',
      a ? `  curl -s${auth} ${a}/metrics | grep switchyard_requests_total` : '',
      '',
      'Ctrl-C stops it (in-flight requests finish first).',
      '',
    ].join('\n'),
  )
}
