/**
 * The access log: one JSON line per request, built by string concatenation (no object per
 * request, no serializer walk) and handed to a buffered asynchronous destination. Framework-free:
 * the caller (plugins/access-log.ts) fills an AccessEntry it reuses and calls `write`.
 *
 * The line keeps the shape pino gave it before (`level: 30`, `time` in epoch ms, the logger's
 * bindings, `msg: "request"`), so tooling that reads the gateway log reads access lines too.
 * Undefined fields are left out, as JSON.stringify would.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import { pino } from 'pino'
import { ConfigError } from '../config/errors.js'
import type { AccessLogSettings } from '../config/model.js'

/** The fields of one access line. Strings are escaped; non-finite numbers are left out. */
export interface AccessEntry {
  reqId?: string | undefined
  traceId?: string | undefined
  method?: string | undefined
  path?: string | undefined
  host?: string | undefined
  client?: string | undefined
  route?: string | undefined
  pool?: string | undefined
  splitPool?: string | undefined
  backend?: string | undefined
  attempts?: number | undefined
  fallback?: boolean | undefined
  cache?: string | undefined
  /** The authenticated consumer: an API key's name or a basic-auth user (never a secret). */
  consumer?: string | undefined
  status?: number | undefined
  /** The gateway's error code (SWITCHYARD_*) when the gateway answered with an error itself. */
  code?: string | undefined
  bytes?: number | undefined
  upstreamMs?: number | undefined
  totalMs?: number | undefined
}

/** Where lines go when they are not written to a file of the access log's own. */
export interface AccessSink {
  write(line: string): unknown
}

export interface AccessLog {
  /** One sampling decision (consumes one draw of the random source when 0 < sample < 1). */
  sampled(): boolean
  /** Writes one line for `entry`, unconditionally: call `sampled()` first. */
  write(entry: AccessEntry): void
  /**
   * Writes one line of another kind beside the request lines (layer-4 streams: `"type":"stream"`),
   * shaped the same way; `fields` are JSON members each starting with a comma. Call `sampled()` first.
   */
  writeLine(type: string, fields: string, msg: string): void
  /** Writes what is buffered, synchronously (process exit). */
  flushSync(): void
  /** Flushes and closes an owned destination; the sink of someone else is left open. */
  close(): Promise<void>
}

export interface AccessLogOptions {
  /** Where lines go without `settings.file`; default a buffered asynchronous stdout. */
  readonly sink?: AccessSink
  /** Random source in [0, 1) for sampling; default Math.random. */
  readonly random?: () => number
  /** Clock for `time`; default Date.now. */
  readonly now?: () => number
  /**
   * JSON members written after `time`, already serialised and starting with a comma, e.g. pino's
   * bindings `,"pid":1,"hostname":"h","service":"switchyard"`. Default none.
   */
  readonly bindings?: string
  /** A write error of an owned destination (disk full, ...); default: ignored after the first. */
  readonly onError?: (err: Error) => void
}

/**
 * Buffered asynchronous destination options: ~12 KiB writes (one write call per ~40 access lines;
 * each call costs tens of µs of main-thread CPU whatever its size, so at 4 KiB the writes alone
 * were ~3.5 µs a request; sonic-boom's 16 KiB maxWrite keeps each write whole), and nothing
 * older than 1 s unwritten.
 */
export const BUFFERED = { sync: false, minLength: 12 * 1024, periodicFlush: 1000 } as const

type Destination = ReturnType<typeof pino.destination>

/** The access log of `settings`, or undefined when it is off (`log.access: false`). */
export function createAccessLog(settings: AccessLogSettings, options: AccessLogOptions = {}): AccessLog | undefined {
  if (!settings.enabled) return undefined
  const dest = settings.file !== undefined ? openFileDestination(settings.file, 'log.access.file') : options.sink === undefined ? pino.destination({ dest: 1, ...BUFFERED }) : undefined
  const sink: AccessSink = dest ?? options.sink!
  const random = options.random ?? Math.random
  const now = options.now ?? Date.now
  const head = '{"level":30,"time":'
  const afterTime = `${options.bindings ?? ''},"type":"access"`
  const sample = settings.sample
  let closed = false
  let failed = false
  const onExit = (): void => flush()
  if (dest !== undefined) {
    dest.on('error', (err: Error) => {
      if (failed) return
      failed = true
      options.onError?.(err)
    })
    process.once('exit', onExit)
  }
  function flush(): void {
    if (dest === undefined || closed) return
    try {
      dest.flushSync()
    } catch {
      /* not open yet, or the file went away: nothing more can be done at exit */
    }
  }
  return {
    sampled: sample >= 1 ? () => true : sample <= 0 ? () => false : () => random() < sample,
    write(entry) {
      if (closed) return
      sink.write(head + now() + afterTime + formatFields(entry) + ',"msg":"request"}\n')
    },
    writeLine(type, fields, msg) {
      if (closed) return
      sink.write(head + now() + (options.bindings ?? '') + ',"type":' + str(type) + fields + ',"msg":' + str(msg) + '}\n')
    },
    flushSync: flush,
    close() {
      if (closed || dest === undefined) {
        closed = true
        return Promise.resolve()
      }
      closed = true
      process.off('exit', onExit)
      return new Promise<void>((resolve) => {
        dest.once('close', () => resolve())
        dest.once('error', () => resolve())
        dest.end()
      })
    },
  }
}

/**
 * A buffered asynchronous file destination, opened (and its directory created) synchronously
 * first so that a file that cannot be written is a start-up error naming `path`, not a crash later.
 */
export function openFileDestination(file: string, path: string, buffering: { readonly sync: false; readonly minLength?: number; readonly periodicFlush?: number } = BUFFERED): Destination {
  try {
    mkdirSync(dirname(file), { recursive: true })
    closeSync(openSync(file, 'a'))
  } catch (err) {
    throw new ConfigError([{ path, message: `cannot open ${file} for writing: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }])
  }
  return pino.destination({ dest: file, append: true, ...buffering })
}

/** The members of one line after `"type":"access"`, each starting with a comma. */
export function formatFields(e: AccessEntry): string {
  let s = ''
  if (e.reqId !== undefined) s += ',"reqId":' + str(e.reqId)
  if (e.traceId !== undefined) s += ',"traceId":' + str(e.traceId)
  if (e.method !== undefined) s += ',"method":' + str(e.method)
  if (e.path !== undefined) s += ',"path":' + str(e.path)
  if (e.host !== undefined) s += ',"host":' + str(e.host)
  if (e.client !== undefined) s += ',"client":' + str(e.client)
  if (e.route !== undefined) s += ',"route":' + str(e.route)
  if (e.pool !== undefined) s += ',"pool":' + str(e.pool)
  if (e.splitPool !== undefined) s += ',"splitPool":' + str(e.splitPool)
  if (e.backend !== undefined) s += ',"backend":' + str(e.backend)
  if (isNumber(e.attempts)) s += ',"attempts":' + e.attempts
  if (e.fallback !== undefined) s += e.fallback ? ',"fallback":true' : ',"fallback":false'
  if (e.cache !== undefined) s += ',"cache":' + str(e.cache)
  if (e.consumer !== undefined) s += ',"consumer":' + str(e.consumer)
  if (isNumber(e.status)) s += ',"status":' + e.status
  if (e.code !== undefined) s += ',"code":' + str(e.code)
  if (isNumber(e.bytes)) s += ',"bytes":' + e.bytes
  if (isNumber(e.upstreamMs)) s += ',"upstreamMs":' + e.upstreamMs
  if (isNumber(e.totalMs)) s += ',"totalMs":' + e.totalMs
  return s
}

// JSON.stringify of one string is V8's fast path: quotes, backslashes, control characters and
// lone surrogates escaped. String() first: a header value is not always what its type says.
function str(v: string): string {
  return JSON.stringify(typeof v === 'string' ? v : String(v))
}

function isNumber(v: number | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v)
}
