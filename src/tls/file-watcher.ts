/**
 * Notices that certificate files may have changed: fs.watch on the directories that hold them
 * (debounced, since a renewal writes several files and tools write in several steps), plus a
 * periodic check as a fallback for file systems where watch events do not arrive (network
 * mounts, some container volumes) or were missed. Watching directories rather than files also
 * sees files replaced by rename or symlink swap, the way certbot (`live/` symlinks) and
 * Kubernetes secret volumes (`..data` swap) update them.
 *
 * The watcher only says "look again"; the consumer compares contents, so a spurious wake-up
 * costs one read of a few small files. Timers are unref()ed and watchers non-persistent: they
 * never keep a process alive, and close() stops all of them.
 */
import { watch, type FSWatcher } from 'node:fs'
import { dirname } from 'node:path'

export interface FileWatcherOptions {
  /** Quiet time after the last event before `onChange` runs. */
  readonly debounceMs: number
  /** Interval of the fallback check; 0 disables it. */
  readonly pollMs: number
  /** Use fs.watch (default true); the periodic check runs either way. */
  readonly fsWatch?: boolean
  /** A directory that cannot be watched (polling still covers it). */
  readonly onWatchError?: (dir: string, err: Error) => void
}

export interface FileWatcher {
  close(): void
}

export function watchFiles(files: readonly string[], onChange: () => void, opts: FileWatcherOptions): FileWatcher {
  let closed = false
  let debounce: NodeJS.Timeout | undefined
  const watchers: FSWatcher[] = []

  const schedule = (): void => {
    if (closed) return
    if (debounce !== undefined) clearTimeout(debounce)
    debounce = setTimeout(() => {
      debounce = undefined
      if (!closed) onChange()
    }, opts.debounceMs)
    debounce.unref()
  }

  if (opts.fsWatch !== false) {
    for (const dir of new Set(files.map((f) => dirname(f)))) {
      try {
        const w = watch(dir, { persistent: false }, schedule)
        w.on('error', (err) => {
          w.close()
          opts.onWatchError?.(dir, err)
        })
        watchers.push(w)
      } catch (err) {
        opts.onWatchError?.(dir, err as Error)
      }
    }
  }

  const poll = opts.pollMs > 0 ? setInterval(() => onChange(), opts.pollMs) : undefined
  poll?.unref()

  return {
    close() {
      closed = true
      if (debounce !== undefined) clearTimeout(debounce)
      if (poll !== undefined) clearInterval(poll)
      for (const w of watchers) w.close()
    },
  }
}
