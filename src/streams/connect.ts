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

/** Something a try connected: a TCP socket, or a UDP session's socket. */
export interface Disposable {
  destroy(): void
}

export interface Connected<T extends Disposable = net.Socket> {
  readonly socket: T
  readonly pool: Pool
  /**
   * Held for the connection's lifetime (end it with 'cancel' when the connection closes): it
   * counts the connection in flight for least-connections and P2C, and a reload that removes
   * the backend waits for it. The breaker was already told that the connect succeeded.
   */
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
 * The lease a connection holds after its connect: a last-resort lease (the breaker ignores its
 * cancel), so the connect's own lease can settle the breaker at once. A long-lived connection
 * must not keep a half-open breaker waiting for its verdict for hours.
 */
function holdLease(pool: Pool, backend: Backend, connectLease: Lease, connectMs: number): Lease {
  const hold = pool.acquireLastResort(backend)
  if (hold === null) return connectLease // a draining backend: keep the connect lease instead
  connectLease.end('success', connectMs)
  return hold
}

/**
 * Connects to the first backend along the chain of `first` that accepts. Tries per pool:
 * 1 + `retry.attempts` when `retry.on` lists `connect-error` (else 1), each retry asked of the
 * pool's retry budget. The connect phase counts as one request in flight on each pool it tries
 * (the budget is a share of those), and its retries are released when it leaves the pool.
 */
export async function connectThroughChain<T extends Disposable = net.Socket>(
  pools: PoolRegistry,
  first: string,
  clientIp: string,
  hooks: ConnectHooks = {},
  connect: (backend: Backend) => Promise<T> = connectTcp as unknown as (backend: Backend) => Promise<T>,
): Promise<Connected<T> | ConnectFailed> {
  const input = streamKeyInput(clientIp)
  let attempts = 0
  let tried = false
  for (const step of chainSteps(pools, first, input, () => tried)) {
    const pool = step.pool
    const retry = pool.settings.retry
    const allowed = 1 + (retry.on.includes('connect-error') ? retry.attempts : 0)
    let here = 0
    let retries = 0
    pool.recordRequest()
    try {
      for (const backend of step.candidates) {
        if (here >= allowed) break
        if (here > 0) {
          if (!pool.tryRetry()) break
          retries++
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
          return { socket, pool, lease: holdLease(pool, backend, lease, connectMs), backend, attempts, lastResort: step.lastResort, connectMs }
        } catch (err) {
          lease.end('failure', performance.now() - started, 'connect-error')
          hooks.onFailure?.(pool, backend, err as Error)
          if (hooks.aborted?.()) return { error: 'aborted', attempts, pool: pools.get(first) }
        }
      }
    } finally {
      pool.endRequest()
      if (retries > 0) pool.releaseRetries(retries)
    }
  }
  return { error: tried ? 'connect-failed' : 'no-backend', attempts, pool: pools.get(first) }
}
