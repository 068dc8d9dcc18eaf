import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { watchFiles, type FileWatcher } from '../../src/tls/file-watcher.js'
import { waitFor } from '../helpers/upstream.js'

let watcher: FileWatcher | undefined
let dir: string | undefined
afterEach(async () => {
  watcher?.close()
  watcher = undefined
  if (dir) await rm(dir, { recursive: true, force: true })
  dir = undefined
})

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('certificate file watcher', () => {
  it('coalesces a burst of writes into one change after the quiet time', async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-watch-'))
    const file = join(dir, 'cert.pem')
    await writeFile(file, 'v1')
    let changes = 0
    watcher = watchFiles([file], () => changes++, { debounceMs: 300, pollMs: 0 })
    // The burst is written in one go: on a loaded machine a pause between writes can outlast
    // the quiet time, which is a second change by design, not what this test is about.
    for (let i = 0; i < 5; i++) writeFileSync(file, `v${i + 2}`)
    await waitFor(() => changes === 1, 3000, 20, 'one debounced change')
    await pause(600)
    expect(changes).toBe(1)
  })

  it('sees a file replaced by rename (how certbot and Kubernetes swap files)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-watch-'))
    const file = join(dir, 'cert.pem')
    await writeFile(file, 'v1')
    let changes = 0
    watcher = watchFiles([file], () => changes++, { debounceMs: 50, pollMs: 0 })
    await writeFile(join(dir, '.tmp-cert.pem'), 'v2')
    await rename(join(dir, '.tmp-cert.pem'), file)
    await waitFor(() => changes >= 1, 3000, 20, 'the rename to be seen')
  })

  it('falls back to a periodic check when watching is off or impossible, and stops on close', async () => {
    let changes = 0
    const errors: string[] = []
    watcher = watchFiles(['/nonexistent/switchyard/cert.pem'], () => changes++, { debounceMs: 50, pollMs: 40, onWatchError: (d) => errors.push(d) })
    expect(errors).toEqual(['/nonexistent/switchyard'])
    await waitFor(() => changes >= 2, 3000, 10, 'periodic checks')
    watcher.close()
    const seen = changes
    await pause(150)
    expect(changes).toBe(seen)
  })
})
