/**
 * The demo's upstreams listen on fixed loopback ports (9001-9302, config/gateway.yaml), so two
 * test files that start the demo must not run it at the same time (vitest runs files in
 * parallel workers). A lock directory holds the owner's pid; a dead owner's lock is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const LOCK = join(tmpdir(), 'switchyard-demo-ports.lock')

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Wait until this process holds the demo ports; returns the release function. */
export async function lockDemoPorts(timeoutMs = 60_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      mkdirSync(LOCK)
      writeFileSync(join(LOCK, 'pid'), String(process.pid))
      return () => rmSync(LOCK, { recursive: true, force: true })
    } catch {
      let owner = NaN
      try {
        owner = Number(readFileSync(join(LOCK, 'pid'), 'utf8'))
      } catch {
        /* being created or removed right now */
      }
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) rmSync(LOCK, { recursive: true, force: true })
      if (Date.now() > deadline) throw new Error(`the demo ports are held by pid ${owner} (${LOCK})`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}
