/**
 * Active health checks of one pool: each backend gets its own probe loop that sends
 * `GET healthCheck.path`, waits for the answer (or the timeout), and only then schedules the
 * next probe, so probes of one backend never overlap, however slow it is. Intervals carry
 * ±10% jitter so a fleet of gateways (or many backends) does not probe in lockstep. A backend
 * flips to down after `unhealthyThreshold` consecutive failed probes and back up after
 * `healthyThreshold` consecutive good ones.
 *
 * Before its first verdict a backend counts as healthy: a fresh gateway serves at once, and a
 * backend that is in fact down meanwhile is covered by retries and its circuit breaker.
 *
 * For resource-based pools the probe also reads `{"load": 0..1}` from a JSON body.
 *
 * `type: tcp` only opens a connection (HAProxy's `check` without `option httpchk`): for
 * backends without a health endpoint. HTTP probes send `method` (GET), `headers` and, with
 * `host`, that Host header (a virtual-hosted backend answers its health page only on its name).
 * The last probe's outcome, status, latency and error are kept on the backend for /api/pools.
 */
import net from 'node:net'
import type { HealthCheckSettings, PoolSettings } from '../config/model.js'
import type { UpstreamBackend } from './backend.js'
import type { HealthChecker } from './types.js'
import { probeGrpcHealth } from './grpc-health.js'

/** Largest health-check body read for a load report; the rest is discarded. */
const MAX_PROBE_BODY = 64 * 1024
const JITTER = 0.1

/** The narrow view of a pool the checker needs; settings and members change on reload. */
export interface CheckedPool {
  readonly settings: PoolSettings
  readonly backends: readonly UpstreamBackend[]
}

export interface ProbeResult {
  readonly ok: boolean
  /** Why it failed (or the status when it passed), for events and logs. */
  readonly reason: string
  readonly load?: number
  /** The probe's HTTP status, when an answer arrived. */
  readonly status?: number
}

function statusExpected(status: number, ranges: HealthCheckSettings['expectStatus']): boolean {
  for (const [lo, hi] of ranges) if (status >= lo && status <= hi) return true
  return false
}

function describeError(err: unknown): string {
  const e = err as { code?: string; name?: string; message?: string }
  if (e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED') return 'timeout'
  return e?.code ?? e?.message ?? 'probe failed'
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > MAX_PROBE_BODY) {
      body.destroy()
      return undefined
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * A `type: tcp` probe: the backend accepts a TCP connection (closed at once, nothing sent).
 * The default for layer-4 pools; for a udp:// backend it checks a TCP listener on the same port.
 */
export function probeTcp(url: URL, signal: AbortSignal): Promise<ProbeResult> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80)
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (result: ProbeResult): void => {
      signal.removeEventListener('abort', onAbort)
      socket.destroy()
      resolve(result)
    }
    const onAbort = (): void => done({ ok: false, reason: 'timeout' })
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    socket.once('connect', () => done({ ok: true, reason: 'connected' }))
    socket.once('error', (err) => done({ ok: false, reason: describeError(err) }))
  })
}

/** One probe of one backend; never throws. */
export async function probeBackend(backend: UpstreamBackend, hc: HealthCheckSettings, readLoad: boolean, signal: AbortSignal): Promise<ProbeResult> {
  if (hc.type === 'tcp') return probeTcp(backend.url, signal)
  if (hc.type === 'grpc') return probeGrpcHealth(backend, hc, signal)
  try {
    const method = hc.method ?? 'GET'
    const res = await backend.probeDispatcher.request({
      method: method as 'GET',
      path: hc.path,
      headers: { 'user-agent': 'switchyard-health-check', accept: 'application/json, */*;q=0.5', ...hc.headers, ...(hc.host !== undefined && { host: hc.host }) },
      signal,
    })
    if (!statusExpected(res.statusCode, hc.expectStatus)) {
      await res.body.dump().catch(() => {})
      return { ok: false, reason: `status ${res.statusCode}`, status: res.statusCode }
    }
    const type = String(res.headers['content-type'] ?? '')
    if (method === 'HEAD' || !readLoad || !type.includes('json')) {
      await res.body.dump()
      return { ok: true, reason: `status ${res.statusCode}`, status: res.statusCode }
    }
    const text = await readCapped(res.body)
    let load: number | undefined
    if (text !== undefined) {
      try {
        const parsed = JSON.parse(text) as { load?: unknown }
        if (typeof parsed?.load === 'number' && Number.isFinite(parsed.load)) load = parsed.load
      } catch {
        // A body that is not JSON is still a passing check; it just carries no load report.
      }
    }
    return load === undefined ? { ok: true, reason: `status ${res.statusCode}`, status: res.statusCode } : { ok: true, reason: `status ${res.statusCode}`, status: res.statusCode, load }
  } catch (err) {
    return { ok: false, reason: describeError(err) }
  }
}

class ProbeLoop {
  readonly #backend: UpstreamBackend
  readonly #pool: CheckedPool
  readonly #random: () => number
  #timer: NodeJS.Timeout | undefined
  #abort: AbortController | undefined
  #stopped = false
  #successes = 0
  #failures = 0
  /** Probes in flight (never more than one); exposed for tests and diagnostics. */
  inFlight = 0

  constructor(backend: UpstreamBackend, pool: CheckedPool, random: () => number) {
    this.#backend = backend
    this.#pool = pool
    this.#random = random
  }

  start(): void {
    const hc = this.#pool.settings.healthCheck
    if (hc === undefined) return
    // First probe soon, spread over a tenth of the interval so backends are not probed at once.
    this.#schedule(this.#random() * hc.interval * JITTER)
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#abort?.abort()
  }

  #schedule(delay: number): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => void this.#run(), Math.max(0, delay))
    // Probes alone must never keep the process alive.
    this.#timer.unref()
  }

  async #run(): Promise<void> {
    this.#timer = undefined
    const hc = this.#pool.settings.healthCheck
    if (this.#stopped || hc === undefined) return
    const startedAt = performance.now()
    const abort = new AbortController()
    this.#abort = abort
    const timeout = setTimeout(() => abort.abort(), hc.timeout)
    timeout.unref()
    this.inFlight++
    let result: ProbeResult
    try {
      result = await probeBackend(this.#backend, hc, this.#pool.settings.algorithm === 'resource-based', abort.signal)
    } finally {
      this.inFlight--
      clearTimeout(timeout)
      this.#abort = undefined
    }
    if (this.#stopped) return
    this.#backend.lastProbe = {
      time: new Date().toISOString(),
      ok: result.ok,
      latencyMs: Math.round((performance.now() - startedAt) * 10) / 10,
      ...(result.status !== undefined && { status: result.status }),
      ...(!result.ok && { error: result.reason }),
    }
    this.#apply(result, hc)
    // Start-to-start interval (with jitter); a probe slower than the interval is followed at once.
    const interval = hc.interval * (1 - JITTER + 2 * JITTER * this.#random())
    this.#schedule(interval - (performance.now() - startedAt))
  }

  #apply(result: ProbeResult, hc: HealthCheckSettings): void {
    const b = this.#backend
    if (result.ok) {
      if (result.load !== undefined) b.reportLoad(result.load)
      this.#failures = 0
      this.#successes++
      if (!b.healthy && this.#successes >= hc.healthyThreshold) b.setHealthy(true, result.reason)
    } else {
      this.#successes = 0
      this.#failures++
      if (b.healthy && this.#failures >= hc.unhealthyThreshold) b.setHealthy(false, result.reason)
    }
  }
}

export class PoolHealthChecker implements HealthChecker {
  readonly #pool: CheckedPool
  readonly #random: () => number
  readonly #loops = new Map<UpstreamBackend, ProbeLoop>()
  #running = false

  constructor(pool: CheckedPool, random: () => number = Math.random) {
    this.#pool = pool
    this.#random = random
  }

  get running(): boolean {
    return this.#running
  }

  /** Probes in flight for a backend (0 or 1). */
  inFlight(backend: UpstreamBackend): number {
    return this.#loops.get(backend)?.inFlight ?? 0
  }

  start(): void {
    this.#running = true
    this.sync()
  }

  stop(): void {
    this.#running = false
    for (const loop of this.#loops.values()) loop.stop()
    this.#loops.clear()
  }

  /**
   * Matches the probe loops to the pool's current members and settings (after a reload):
   * kept backends keep their loop and counts, new ones get one, removed ones lose theirs.
   * Without a healthCheck any more, backends are healthy again.
   */
  sync(): void {
    const hc = this.#pool.settings.healthCheck
    const members = new Set(this.#pool.backends)
    for (const [backend, loop] of this.#loops) {
      if (hc === undefined || !members.has(backend)) {
        loop.stop()
        this.#loops.delete(backend)
      }
    }
    if (hc === undefined) {
      for (const b of members) b.resetHealth()
      return
    }
    if (!this.#running) return
    for (const b of members) {
      if (this.#loops.has(b)) continue
      const loop = new ProbeLoop(b, this.#pool, this.#random)
      this.#loops.set(b, loop)
      loop.start()
    }
  }
}
