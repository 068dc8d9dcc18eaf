/**
 * `state.file`: runtime changes made through the admin API (backend states and weight
 * overrides, split weights) outlive a restart. The file holds the same snapshot a fleet shares
 * through etcd (src/runtime-changes.ts), rewritten after every change, atomically (a temporary
 * file in the same directory, fsync, rename: a crash leaves the old file or the new one, never
 * half of one), and read once at start, where it is applied like a snapshot from another
 * instance: what still exists takes its values, what no longer does is reported and dropped.
 * Writes are serialised and coalesced: a burst of changes costs at most two writes.
 * Framework-free.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises'
import type { Logger } from 'pino'
import type { RuntimeSnapshot } from './runtime-changes.js'

/** The file's shape: a runtime snapshot with a format version. */
export interface StateFile extends RuntimeSnapshot {
  readonly version: 1
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** Writes `snapshot` to `path` atomically: a sibling temporary file, fsync, rename. */
export async function writeStateFile(path: string, snapshot: RuntimeSnapshot): Promise<void> {
  const data: StateFile = { version: 1, splits: snapshot.splits, backends: snapshot.backends }
  const tmp = `${path}.${process.pid}.tmp`
  const fh = await open(tmp, 'w', 0o600)
  try {
    await fh.writeFile(`${JSON.stringify(data, null, 2)}\n`)
    await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
}

/** The snapshot in the file; undefined when there is none yet. Throws on a malformed file. */
export async function readStateFile(path: string): Promise<RuntimeSnapshot | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const raw = JSON.parse(text) as unknown
  if (!isRecord(raw)) throw new Error('not a JSON object')
  return {
    splits: (isRecord(raw['splits']) ? raw['splits'] : {}) as RuntimeSnapshot['splits'],
    backends: (isRecord(raw['backends']) ? raw['backends'] : {}) as RuntimeSnapshot['backends'],
  }
}

/** Serialised, coalesced writes of the current runtime snapshot. */
export function createStateWriter(path: string, capture: () => RuntimeSnapshot, log: Logger): { changed(): void; flush(): Promise<void> } {
  let running: Promise<void> | undefined
  let dirty = false
  const run = async (): Promise<void> => {
    while (dirty) {
      dirty = false
      try {
        await writeStateFile(path, capture())
      } catch (err) {
        log.error({ err, file: path }, 'could not write state.file; runtime changes will not survive a restart')
      }
    }
    running = undefined
  }
  return {
    changed() {
      dirty = true
      running ??= run()
    },
    async flush() {
      await running
    },
  }
}
