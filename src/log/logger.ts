/**
 * The gateway's pino logger from the `log` section (used by `switchyard start` and `demo`), and
 * where the access log writes when `log.access.file` is not set: the destination of the logger
 * the gateway was given, so embedders and tests see access lines where they see the rest.
 */
import { pino, type Logger } from 'pino'
import type { GatewaySettings, LogSettings } from '../config/model.js'
import { BUFFERED, openFileDestination, type AccessSink } from './access-log.js'

const sinks = new WeakMap<Logger, AccessSink | null>()

/** Access lines of gateways logging through `logger` go to `sink` (null: nowhere) unless `log.access.file` is set. */
export function setAccessSink(logger: Logger, sink: AccessSink | null): void {
  sinks.set(logger, sink)
}

/**
 * Where access lines go without `log.access.file`: the sink set for this logger, else the
 * logger's own destination. A silent logger without a sink set (`createGateway(…, { logger:
 * false })`) writes no access lines; `switchyard start` sets its destination, so there
 * `log.level: silent` still keeps the access log.
 */
export function accessSinkFor(logger: Logger): AccessSink | null {
  const set = sinks.get(logger)
  if (set !== undefined) return set
  if (logger.level === 'silent') return null
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as AccessSink | undefined
  return stream !== undefined && typeof stream.write === 'function' ? stream : null
}

/** pino's serialised bindings (`,"pid":…,"hostname":…,"service":…`), for access lines shaped like its own. */
export function bindingsOf(logger: Logger): string {
  const chindings = (logger as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym]
  return typeof chindings === 'string' ? chindings : ''
}

export interface GatewayLogger {
  readonly logger: Logger
  /** Writes what is buffered, synchronously. Also done on process exit. */
  flushSync(): void
}

/**
 * A pino logger at `log.level` writing JSON lines to `log.file` (appended) or stdout, through an
 * asynchronous destination flushed on exit: a synchronous write per line would block the event
 * loop. When access lines share it (no `log.access.file`), it buffers ~12 KiB per write (and
 * flushes at least every second), as the access log's own file would.
 */
export function createGatewayLogger(settings: LogSettings, base: Record<string, unknown> = { service: 'switchyard' }): GatewayLogger {
  const sharesAccess = settings.access.enabled && settings.access.file === undefined
  // Alone, the gateway log is low volume: each line is written as soon as the previous write ends.
  const buffering = sharesAccess ? BUFFERED : ({ sync: false } as const)
  const dest = settings.file !== undefined ? openFileDestination(settings.file, 'log.file', buffering) : pino.destination({ dest: 1, ...buffering })
  const flushSync = (): void => {
    try {
      dest.flushSync()
    } catch {
      /* not open yet: nothing to flush */
    }
  }
  process.once('exit', flushSync)
  const logger = pino({ base, level: settings.level }, dest)
  setAccessSink(logger, dest)
  return { logger, flushSync }
}

/**
 * Call on reload with the running and the new settings: the `log` section is applied at start
 * only, so a change is logged as a warning (true when it was). Nothing else happens.
 */
export function warnOnLogChanges(prev: GatewaySettings, next: GatewaySettings, log: Pick<Logger, 'warn'>): boolean {
  const a = prev.log
  const b = next.log
  if (a === undefined || b === undefined) return false
  const changed: string[] = []
  if (a.level !== b.level) changed.push('log.level')
  if (a.file !== b.file) changed.push('log.file')
  if (a.access.enabled !== b.access.enabled || a.access.sample !== b.access.sample || a.access.file !== b.access.file) changed.push('log.access')
  if (changed.length === 0) return false
  log.warn({ changed }, `${changed.join(', ')} changed: logging settings apply after a restart`)
  return true
}
