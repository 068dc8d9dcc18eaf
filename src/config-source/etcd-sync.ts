/**
 * A running gateway kept in step with etcd (`configSource.etcd`): the configuration key is
 * watched and every change reloaded (validated exactly as a file; a refused value leaves the
 * running configuration serving and is reported by the reload), runtime changes made through
 * this instance's admin API are published for the others, and theirs are applied here.
 */
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { ConfigError, normalizeConfig } from '../config/index.js'
import type { GatewaySettings } from '../config/model.js'
import type { Env } from '../config/env.js'
import type { RuntimeSnapshot } from '../runtime-changes.js'
import { composeDocument, parseRemoteDocument, readLocalDocument } from './compose.js'
import { EtcdSource } from './etcd-source.js'
import { canaryFleetOf } from '../canary/fleet.js'
import { startCanaryFleet, type CanaryFleet } from './canary-fleet.js'

/** What the sync needs of the gateway (src/gateway.ts satisfies it). */
export interface SyncedGateway {
  reload(config?: unknown): Promise<{ readonly ok: boolean; readonly problems?: readonly string[] }>
  runtimeSnapshot(): RuntimeSnapshot
  applyRuntime(snapshot: RuntimeSnapshot, from: string): string[]
  onRuntimeChange(listener: (action: string, detail: Record<string, unknown>) => void): () => void
  addDependency(name: string, probe: () => Promise<{ ok: boolean; [k: string]: unknown }>): void
  /** The deciding gateway's handle: its canary controller joins the fleet's canary election. */
  readonly handle?: object
}

/** The whole configuration document: the local file's sections over the value at the key. */
export async function readComposedDocument(localPath: string, source: EtcdSource): Promise<Record<string, unknown>> {
  const local = await readLocalDocument(localPath)
  const text = await source.readConfig()
  if (text === undefined) {
    throw new ConfigError([{ path: `etcd:${source.settings.key}`, message: 'no configuration at this key (publish one with `switchyard config push`)' }])
  }
  return composeDocument(local, parseRemoteDocument(text, `etcd:${source.settings.key}`))
}

export interface EtcdStart {
  readonly source: EtcdSource
  /** The composed, validated settings to start with. */
  readonly settings: GatewaySettings
  /** For the gateway's reloads without an argument (SIGHUP, POST /api/reload). */
  readonly loadConfig: () => Promise<unknown>
  /** Watch, share runtime changes and report etcd in the deep health check. */
  attach(gateway: SyncedGateway, log: Logger): Promise<void>
  close(): Promise<void>
}

/**
 * Everything a start with `configSource.etcd` needs. Throws ConfigError (no value at the key,
 * an invalid value) or EtcdUnavailableError (etcd cannot be reached at start: with no last
 * good configuration there is nothing to serve).
 */
export async function prepareEtcdStart(localPath: string, local: GatewaySettings, env: Env = process.env, source?: EtcdSource): Promise<EtcdStart> {
  const etcd = local.configSource!.etcd
  const src = source ?? new EtcdSource(etcd)
  const options = { env, source: localPath, baseDir: dirname(localPath) }
  let settings: GatewaySettings
  try {
    settings = normalizeConfig(await readComposedDocument(localPath, src), options)
  } catch (err) {
    await src.close()
    throw err
  }
  let unsubscribe: (() => void) | undefined
  let fleet: CanaryFleet | undefined
  // The value the watch delivered last: a reload composes it with the local file and needs no
  // etcd round trip, so a change delivered just as etcd comes back cannot be lost to a failing
  // read. Undefined until the first watch event: then the key is read.
  let latest: string | undefined
  return {
    source: src,
    settings,
    loadConfig: async () => {
      if (latest === undefined) return readComposedDocument(localPath, src)
      return composeDocument(await readLocalDocument(localPath), parseRemoteDocument(latest, `etcd:${etcd.key}`))
    },
    async attach(gateway, log) {
      gateway.addDependency('etcd', async () => ({ ok: await src.ping(), endpoints: etcd.endpoints, key: etcd.key }))
      // Runtime changes already shared by the fleet apply here before traffic.
      const shared = await src.readRuntime().catch(() => undefined)
      if (shared !== undefined && shared.origin !== src.instance) gateway.applyRuntime(shared, shared.origin)
      unsubscribe = gateway.onRuntimeChange((action) => {
        src.writeRuntime(gateway.runtimeSnapshot()).then(
          () => log.info({ action, key: etcd.runtimeKey }, 'runtime change shared through etcd'),
          (err: Error) => log.warn({ action, err: err.message }, 'runtime change not shared: etcd unavailable (it stays in force here)'),
        )
      })
      // Changes are applied one at a time, in the order etcd delivers them.
      let queue: Promise<unknown> = Promise.resolve()
      await src.watch({
        onConfig(text) {
          queue = queue.then(async () => {
            if (text === undefined) {
              log.warn({ key: etcd.key }, 'the configuration key was deleted in etcd; the running configuration keeps serving')
              return
            }
            latest = text
            // Reload composes this value through loadConfig: a value that does not parse or
            // validate is refused there, counted, logged and shown like any other rejected
            // reload, and the running configuration keeps serving.
            const result = await gateway.reload()
            if (result.ok) log.info({ key: etcd.key }, 'configuration from etcd applied')
          })
        },
        onRuntime(runtime) {
          queue = queue.then(() => gateway.applyRuntime(runtime, runtime.origin))
        },
        onConnection(connected, error) {
          if (connected) log.info({ endpoints: etcd.endpoints }, 'etcd reachable again; watching')
          else log.warn({ endpoints: etcd.endpoints, err: error?.message }, 'etcd unreachable; the last good configuration keeps serving, reconnecting')
        },
      })
      // Canaries are decided by one leader for the whole fleet (src/config-source/canary-fleet.ts).
      const port = gateway.handle !== undefined ? canaryFleetOf(gateway.handle) : undefined
      if (port !== undefined) fleet = startCanaryFleet({ settings: etcd, instance: src.instance, port, log })
    },
    async close() {
      unsubscribe?.()
      await fleet?.close()
      await src.close()
    },
  }
}
