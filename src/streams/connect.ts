/**
 * Choosing and connecting a stream's backend through the one pool walk (src/upstream/pool-chain.ts):
 * each pool of the fallback chain in balancer order, then the last resort. Each try holds a
 * lease (the connection counts in flight for least-connections); a failed connect ends it as a
 * `connect-error` failure (the circuit breaker's input) and, while the pool's retry policy and
 * budget allow, the next backend is tried. A pool whose tries are spent hands over to its fallback.
 */
import net from 'node:net'
import type { KeyInput } from '../routing/key-value.js'
import { chainSteps, leaseFor } from '../upstream/pool-chain.js'
import type { Backend, Lease, Pool, PoolRegistry } from '../upstream/types.js'

export interface Connected {
  readonly socket: net.Socket
  readonly pool: Pool
  readonly lease: Lease
  readonly backend: Backend
  readonly attempts: number
  readonly lastResort: boolean
  readonly connectMs: number
}

export interface ConnectFailed {
  readonly error: 'no-backend' | 'connect-failed' | 'aborted'
  readonly attempts: number
  /** The pool the walk started at, when it exists. */
  readonly pool: Pool | undefined
}

export interface ConnectHooks {
  /** A try failed (for metrics and logs). */
  onFailure?(pool: Pool, backend: Backend, error: Error): void
  /** True once the client has gone: stop trying. */
  aborted?(): boolean
}

const EMPTY_HEADERS = Object.freeze({}) as Readonly<Record<string, string>>

/** What the balancers see of a stream client: its address (ip-hash, consistent-hash on ip). */
export function streamKeyInput(clientIp: string): KeyInput {
  return { clientIp, headers: EMPTY_HEADERS, claims: undefined }
}

/** host and port of a tcp:// (or udp://) backend; IPv6 literals without brackets. */
export function backendAddress(backend: Backend): { host: string; port: number } {
  const host = backend.url.hostname
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(backend.url.port) }
}

/** One TCP connect with the backend's connect timeout. */
export function connectTcp(backend: Backend): Promise<net.Socket> {
  const { host, port } = backendAddress(backend)
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true })
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connect timeout after ${backend.connection.connectTimeout}ms`), { code: 'ETIMEDOUT' })), backend.connection.connectTimeout)
    const onError = (err: Error): void => {
      clearTimeout(timer)
      socket.destroy()
      reject(err)
    }
    socket.once('error', onError)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.off('error', onError)
      resolve(socket)
    })
  })
}

/**
 * Connects to the first backend along the chain of `first` that accepts. Tries per pool:
 * 1 + `retry.attempts` when `retry.on` lists `connect-error` (else 1), each retry asked of the
 * pool's retry budget.
 */
export async function connectThroughChain(
  pools: PoolRegistry,
  first: string,
  clientIp: string,
  hooks: ConnectHooks = {},
  connect: (backend: Backend) => Promise<net.Socket> = connectTcp,
): Promise<Connected | ConnectFailed> {
  const input = streamKeyInput(clientIp)
  let attempts = 0
  let tried = false
  for (const step of chainSteps(pools, first, input, () => tried)) {
    const pool = step.pool
    const retry = pool.settings.retry
    const allowed = 1 + (retry.on.includes('connect-error') ? retry.attempts : 0)
    let here = 0
    for (const backend of step.candidates) {
      if (here >= allowed) break
      if (here > 0) {
        if (!pool.tryRetry()) break
        // A connect retry is over as soon as it is decided: the budget bounds retries in flight.
        pool.releaseRetries(1)
      }
      const lease = leaseFor(step, backend)
      if (lease === null) continue
      here++
      attempts++
      tried = true
      const started = performance.now()
      try {
        const socket = await connect(backend)
        const connectMs = performance.now() - started
        if (hooks.aborted?.()) {
          socket.destroy()
          lease.end('cancel', connectMs)
          return { error: 'aborted', attempts, pool: pools.get(first) }
        }
        return { socket, pool, lease, backend, attempts, lastResort: step.lastResort, connectMs }
      } catch (err) {
        lease.end('failure', performance.now() - started, 'connect-error')
        hooks.onFailure?.(pool, backend, err as Error)
        if (hooks.aborted?.()) return { error: 'aborted', attempts, pool: pools.get(first) }
      }
    }
  }
  return { error: tried ? 'connect-failed' : 'no-backend', attempts, pool: pools.get(first) }
}
