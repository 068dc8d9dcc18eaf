/**
 * Configuration from etcd (`configSource.etcd`), as Apache APISIX keeps its own: every instance
 * reads one key, validates the value exactly as a file, watches it and reloads atomically on
 * each change. A value that does not validate is refused by every instance on its own (the
 * running configuration keeps serving) and reported by each reload.
 *
 * Runtime changes made through any instance's admin API (split weights, backend states and
 * weights) are written to a second key, `runtimeKey`, which every instance watches and applies,
 * so a weight changed on instance A is in force on B within a watch round trip.
 *
 * Losing etcd never stops traffic: the last good configuration keeps serving, the client
 * reconnects with backoff (etcd3's cockatiel policies) and the watch resumes from the last
 * revision it saw, so a change made while disconnected is applied on reconnection.
 */
import { readFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import type { Etcd3, IOptions, Watcher } from 'etcd3'
import { lazyModule } from '../lazy-module.js'

const etcd3 = lazyModule<typeof import('etcd3')>('etcd3')
import { ExponentialBackoff } from 'cockatiel'
import type { EtcdSourceSettings } from '../config/model.js'
import type { RuntimeSnapshot } from '../runtime-changes.js'

/** The runtime changes every instance shares (the value at `runtimeKey`, JSON). */
export interface SharedRuntime extends RuntimeSnapshot {
  /** The instance that wrote it: an instance ignores its own writes. */
  readonly origin: string
}

export interface EtcdSourceEvents {
  /** The configuration value changed (raw text), or was deleted (undefined). */
  onConfig?(text: string | undefined): void
  /** Another instance published runtime changes. */
  onRuntime?(runtime: SharedRuntime): void
  /** Connection state for logs and `/health?deep=1`. */
  onConnection?(connected: boolean, error?: Error): void
}

export class EtcdUnavailableError extends Error {
  readonly code = 'SWITCHYARD_ETCD_UNAVAILABLE'
}

/** etcd3 client options from the settings: deadlines on unary calls only (a watch is a long stream). */
export function clientOptions(s: EtcdSourceSettings): IOptions {
  const options: IOptions = {
    hosts: [...s.endpoints],
    dialTimeout: s.dialTimeout,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + s.dialTimeout }),
    // Reconnect the watch within 2 s of etcd coming back (the default backoff grows to 30 s).
    // etcd3 types this as an IBackoff but calls `.next()` on it first, as on its own default.
    faultHandling: { watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2_000 }) as never },
  }
  if (s.username !== undefined && s.password !== undefined) options.auth = { username: s.username, password: s.password }
  if (s.tls !== undefined && s.tls.ca !== undefined) {
    options.credentials = {
      rootCertificate: readFileSync(s.tls.ca),
      ...(s.tls.key !== undefined ? { privateKey: readFileSync(s.tls.key) } : {}),
      ...(s.tls.cert !== undefined ? { certChain: readFileSync(s.tls.cert) } : {}),
    }
  }
  return options
}

export class EtcdSource {
  readonly settings: EtcdSourceSettings
  /** This instance's id in runtime writes. */
  readonly instance = randomUUID()
  readonly #client: Etcd3
  readonly #watchers: Watcher[] = []
  #connected = false
  #closed = false

  constructor(settings: EtcdSourceSettings, client?: Etcd3) {
    this.settings = settings
    this.#client = client ?? new (etcd3().Etcd3)(clientOptions(settings))
  }

  get connected(): boolean {
    return this.#connected
  }

  /** The configuration text at `key`; undefined when the key does not exist. */
  async readConfig(): Promise<string | undefined> {
    try {
      const text = await this.#client.get(this.settings.key).string()
      this.#connected = true
      return text ?? undefined
    } catch (err) {
      this.#connected = false
      throw new EtcdUnavailableError(`etcd ${this.settings.endpoints.join(', ')}: cannot read ${this.settings.key}: ${(err as Error).message}`, { cause: err })
    }
  }

  /** Publishes a configuration text at `key` (config push). */
  async writeConfig(text: string): Promise<void> {
    try {
      await this.#client.put(this.settings.key).value(text)
    } catch (err) {
      throw new EtcdUnavailableError(`etcd ${this.settings.endpoints.join(', ')}: cannot write ${this.settings.key}: ${(err as Error).message}`, { cause: err })
    }
  }

  /** The shared runtime changes, when any were published. */
  async readRuntime(): Promise<SharedRuntime | undefined> {
    const text = await this.#client.get(this.settings.runtimeKey).string()
    return text === null ? undefined : parseRuntime(text)
  }

  /** Publishes this instance's runtime changes for every instance. */
  async writeRuntime(runtime: Omit<SharedRuntime, 'origin'>): Promise<void> {
    await this.#client.put(this.settings.runtimeKey).value(JSON.stringify({ origin: this.instance, ...runtime }))
  }

  /** Whether etcd answers now (deep health). */
  async ping(): Promise<boolean> {
    try {
      await this.#client.maintenance.status()
      this.#connected = true
      return true
    } catch {
      this.#connected = false
      return false
    }
  }

  /**
   * Watches both keys. Changes are delivered in revision order; after a disconnection the
   * watch resumes from the last revision seen, so nothing written meanwhile is missed.
   */
  async watch(events: EtcdSourceEvents): Promise<void> {
    const config = await this.#client.watch().key(this.settings.key).create()
    config.on('put', (kv) => events.onConfig?.(kv.value.toString('utf8')))
    config.on('delete', () => events.onConfig?.(undefined))
    const runtime = await this.#client.watch().key(this.settings.runtimeKey).create()
    runtime.on('put', (kv) => {
      const parsed = parseRuntime(kv.value.toString('utf8'))
      if (parsed !== undefined && parsed.origin !== this.instance) events.onRuntime?.(parsed)
    })
    for (const w of [config, runtime]) {
      w.on('connected', () => {
        if (!this.#connected) events.onConnection?.(true)
        this.#connected = true
      })
      w.on('disconnected', (err: Error) => {
        if (this.#connected) events.onConnection?.(false, err)
        this.#connected = false
      })
      // A watcher error is followed by a reconnection attempt; it must not be an unhandled 'error'.
      w.on('error', (err: Error) => {
        if (this.#connected) events.onConnection?.(false, err)
        this.#connected = false
      })
      this.#watchers.push(w)
    }
    this.#connected = true
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled(this.#watchers.map((w) => w.cancel()))
    this.#client.close()
  }
}

function parseRuntime(text: string): SharedRuntime | undefined {
  try {
    const v = JSON.parse(text) as Partial<SharedRuntime>
    if (typeof v !== 'object' || v === null || typeof v.origin !== 'string') return undefined
    return { origin: v.origin, splits: isRecord(v.splits) ? v.splits : {}, backends: isRecord(v.backends) ? v.backends : {} } as SharedRuntime
  } catch {
    return undefined
  }
}

function isRecord(v: unknown): v is Record<string, never> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
