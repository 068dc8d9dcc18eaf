/**
 * A JSON Web Key Set (RFC 7517 §5) fetched from one configured URL. The URL comes from
 * configuration only: a token's `jku`, `x5u`, `jwk`, `x5c` or `iss` never decides where keys come
 * from or which key is used (RFC 8725 §3.10); only its `kid` selects among the configured keys.
 *
 * Fetching is bounded (timeout, body size, key count), results are cached, an unknown `kid`
 * triggers at most one refetch per `minRefetchInterval` (so random kids cannot make the gateway
 * hammer the key server), concurrent misses share one fetch, and the last good key set is kept
 * for as long as the key server fails.
 */
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { request, type Dispatcher } from 'undici'
import { algorithmsForKey } from './algorithms.js'
import { ERR_JWKS_FETCH, ERR_JWT_KEYS_UNAVAILABLE, ERR_JWT_UNKNOWN_KEY } from './errors.js'

export interface JwksKey {
  /** The key's `kid`, or undefined when the set gave none. */
  readonly kid: string | undefined
  /** SPKI PEM: what fast-jwt verifies with. */
  readonly pem: string
  readonly keyObject: KeyObject
  /** What this key may verify: its type's algorithms ∩ its JWK `alg` ∩ the configured allowlist. */
  readonly algorithms: readonly string[]
}

export interface JwksOptions {
  readonly url: string
  /** The configured allowlist; keys that can verify none of these are ignored. */
  readonly allowedAlgorithms: readonly string[]
  /** Whole fetch (connect, headers, body), ms. */
  readonly timeout?: number
  /** Largest accepted key-set document, bytes. */
  readonly maxBytes?: number
  readonly maxKeys?: number
  /** An unknown `kid` triggers at most one refetch per this many ms. */
  readonly minRefetchInterval?: number
  /** Pace of retries while no key set was ever loaded. */
  readonly retryInterval?: number
  /** Keys older than this are refreshed in the background (the old set keeps serving). */
  readonly maxAge?: number
  readonly now?: () => number
  readonly dispatcher?: Dispatcher
  /** Called with every failed fetch (the caller logs and counts). */
  readonly onFetchError?: (err: Error) => void
}

export interface JwksStats {
  fetches: number
  failures: number
  lastError: string | undefined
  loadedAt: number | undefined
  keyCount: number
}

export interface JwksKeySource {
  /**
   * The key for `kid`. An unknown kid (or nothing loaded yet) may trigger one shared fetch,
   * subject to the refetch interval. Rejects with ERR_JWT_UNKNOWN_KEY (401) or, when no key set
   * was ever loaded, ERR_JWT_KEYS_UNAVAILABLE (503).
   */
  getKey(kid: string | undefined): Promise<JwksKey>
  /**
   * The key for `kid` when the loaded set has it, without waiting (undefined otherwise, and no
   * fetch is started for a miss: call getKey for that). A stale set is refreshed in the
   * background exactly as getKey does, so hot paths that only peek still see rotations.
   */
  peekKey(kid: string | undefined): JwksKey | undefined
  /** Fetch now, ignoring the interval (startup warm-up). Resolves false on failure. */
  refresh(): Promise<boolean>
  readonly stats: Readonly<JwksStats>
  /** Abort an in-flight fetch; later calls fail with ERR_JWT_KEYS_UNAVAILABLE only if nothing is cached. */
  close(): void
}

export const JWKS_DEFAULTS = {
  timeout: 2000,
  maxBytes: 256 * 1024,
  maxKeys: 64,
  minRefetchInterval: 30_000,
  retryInterval: 1000,
  maxAge: 600_000,
} as const

// RFC 7518 §3.3: RSA keys of 2048 bits or larger MUST be used.
const MIN_RSA_BITS = 2048
const MAX_KID_LENGTH = 256

export function createJwksKeySource(options: JwksOptions): JwksKeySource {
  const url = options.url
  const timeout = options.timeout ?? JWKS_DEFAULTS.timeout
  const maxBytes = options.maxBytes ?? JWKS_DEFAULTS.maxBytes
  const maxKeys = options.maxKeys ?? JWKS_DEFAULTS.maxKeys
  const minRefetchInterval = options.minRefetchInterval ?? JWKS_DEFAULTS.minRefetchInterval
  const retryInterval = options.retryInterval ?? JWKS_DEFAULTS.retryInterval
  const maxAge = options.maxAge ?? JWKS_DEFAULTS.maxAge
  const now = options.now ?? Date.now
  const allowed = new Set(options.allowedAlgorithms)
  const onFetchError = options.onFetchError

  let keys: ReadonlyMap<string, JwksKey> | undefined
  let onlyKey: JwksKey | undefined
  let lastAttemptAt = Number.NEGATIVE_INFINITY
  let lastMissFetchAt = Number.NEGATIVE_INFINITY
  let inflight: Promise<boolean> | undefined
  let abort: AbortController | undefined
  let closed = false
  const stats: JwksStats = { fetches: 0, failures: 0, lastError: undefined, loadedAt: undefined, keyCount: 0 }

  function lookup(kid: string | undefined): JwksKey | undefined {
    if (keys === undefined) return undefined
    // A token without `kid` is only acceptable when there is no choice to make.
    return kid === undefined ? onlyKey : keys.get(kid)
  }

  /**
   * Whether a fetch may start now. Unknown kids are throttled on their own clock, so the startup
   * warm-up or a background refresh never delays the first refetch a key rotation needs.
   * Retries while nothing is loaded are paced by `retryInterval`; background refreshes of a stale
   * set (which still serves) by `minRefetchInterval`, so a key-server outage costs one attempt per
   * interval, not one per request.
   */
  function mayFetch(at: number, reason: 'miss' | 'initial' | 'stale'): boolean {
    if (closed) return false
    if (reason === 'miss') return at - lastMissFetchAt >= minRefetchInterval
    if (reason === 'stale') return at - lastAttemptAt >= minRefetchInterval
    return at - lastAttemptAt >= retryInterval
  }

  /** One fetch shared by every caller that arrives while it runs. */
  function fetchShared(): Promise<boolean> {
    if (inflight) return inflight
    lastAttemptAt = now()
    stats.fetches++
    inflight = load()
      .then((loaded) => {
        keys = loaded
        onlyKey = loaded.size === 1 ? loaded.values().next().value : undefined
        stats.loadedAt = now()
        stats.keyCount = loaded.size
        return true
      })
      .catch((err: Error) => {
        // Keep the last good set: a key-server outage must not log everyone out.
        stats.failures++
        stats.lastError = err.message
        onFetchError?.(err)
        return false
      })
      .finally(() => {
        inflight = undefined
      })
    return inflight
  }

  async function load(): Promise<Map<string, JwksKey>> {
    const controller = new AbortController()
    abort = controller
    const timer = setTimeout(() => controller.abort(), timeout)
    try {
      const res = await request(url, {
        method: 'GET',
        headers: { accept: 'application/jwk-set+json, application/json' },
        signal: controller.signal,
        dispatcher: options.dispatcher,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      })
      if (res.statusCode !== 200) {
        discard(res.body)
        throw new ERR_JWKS_FETCH(`status ${res.statusCode}`)
      }
      const declared = Number(res.headers['content-length'])
      if (declared > maxBytes) {
        discard(res.body)
        throw new ERR_JWKS_FETCH(`document larger than ${maxBytes} bytes`)
      }
      const chunks: Buffer[] = []
      let size = 0
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length
        if (size > maxBytes) {
          discard(res.body)
          throw new ERR_JWKS_FETCH(`document larger than ${maxBytes} bytes`)
        }
        chunks.push(chunk as Buffer)
      }
      return parseKeySet(Buffer.concat(chunks).toString('utf8'))
    } catch (err) {
      if ((err as { code?: string }).code === 'SWITCHYARD_JWKS_FETCH') throw err
      const reason = controller.signal.aborted ? (closed ? 'closed' : `timed out after ${timeout}ms`) : (err as Error).message
      throw new ERR_JWKS_FETCH(reason, { cause: err })
    } finally {
      clearTimeout(timer)
      if (abort === controller) abort = undefined
    }
  }

  /** Stop reading a body we will not use; undici reports the abort as an error nobody needs. */
  function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
    body.on('error', () => {})
    body.destroy()
  }

  function parseKeySet(text: string): Map<string, JwksKey> {
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch (err) {
      throw new ERR_JWKS_FETCH('not JSON', { cause: err })
    }
    const list = (doc as { keys?: unknown } | null)?.keys
    if (!Array.isArray(list)) throw new ERR_JWKS_FETCH('no "keys" array')
    const out = new Map<string, JwksKey>()
    for (const raw of list.slice(0, maxKeys)) {
      const key = toKey(raw)
      if (key === undefined) continue
      const id = key.kid ?? ''
      // Two keys under one kid make the choice ambiguous: the first wins, as in most verifiers.
      if (!out.has(id)) out.set(id, key)
    }
    if (out.size === 0) throw new ERR_JWKS_FETCH('no usable keys')
    return out
  }

  function toKey(raw: unknown): JwksKey | undefined {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined
    const jwk = raw as Record<string, unknown>
    // RFC 7517 §4.2/§4.3: keys published for encryption are not signature keys.
    if (jwk.use !== undefined && jwk.use !== 'sig') return undefined
    if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return undefined
    const kid = typeof jwk.kid === 'string' && jwk.kid.length <= MAX_KID_LENGTH ? jwk.kid : undefined
    if (jwk.kid !== undefined && kid === undefined) return undefined
    // Only the public parameters are read: private members and x5c/x5u are ignored. Symmetric
    // (`oct`) keys are refused outright: a secret served over HTTP is no secret.
    let pub: JsonWebKey
    if (jwk.kty === 'RSA' && typeof jwk.n === 'string' && typeof jwk.e === 'string') pub = { kty: 'RSA', n: jwk.n, e: jwk.e }
    else if (jwk.kty === 'EC' && typeof jwk.crv === 'string' && typeof jwk.x === 'string' && typeof jwk.y === 'string')
      pub = { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y }
    else if (jwk.kty === 'OKP' && typeof jwk.crv === 'string' && typeof jwk.x === 'string') pub = { kty: 'OKP', crv: jwk.crv, x: jwk.x }
    else return undefined
    let keyObject: KeyObject
    try {
      keyObject = createPublicKey({ key: pub, format: 'jwk' })
    } catch {
      return undefined
    }
    if (keyObject.asymmetricKeyType === 'rsa' && (keyObject.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) return undefined
    const declared = typeof jwk.alg === 'string' ? jwk.alg : undefined
    const algorithms = algorithmsForKey(keyObject).filter((a) => allowed.has(a) && (declared === undefined || a === declared))
    if (algorithms.length === 0) return undefined
    const pem = keyObject.export({ type: 'spki', format: 'pem' }) as string
    return Object.freeze({ kid, pem, keyObject, algorithms: Object.freeze(algorithms) })
  }

  /** Stale but usable: refresh behind the request, never in front of it. */
  function refreshIfStale(at: number): void {
    if (stats.loadedAt !== undefined && at - stats.loadedAt > maxAge && inflight === undefined && mayFetch(at, 'stale')) void fetchShared()
  }

  return {
    stats,
    peekKey(kid) {
      const hit = lookup(kid)
      if (hit !== undefined) refreshIfStale(now())
      return hit
    },
    async getKey(kid) {
      const at = now()
      const hit = lookup(kid)
      if (hit !== undefined) {
        refreshIfStale(at)
        return hit
      }
      if (inflight !== undefined) {
        await inflight
      } else if (keys === undefined) {
        if (mayFetch(at, 'initial')) await fetchShared()
      } else if (kid !== undefined && mayFetch(at, 'miss')) {
        // A token without kid cannot be helped by refetching while several keys are loaded.
        lastMissFetchAt = at
        await fetchShared()
      }
      const found = lookup(kid)
      if (found !== undefined) return found
      if (keys === undefined) throw new ERR_JWT_KEYS_UNAVAILABLE()
      throw new ERR_JWT_UNKNOWN_KEY()
    },
    refresh() {
      if (closed) return Promise.resolve(false)
      return fetchShared()
    },
    close() {
      closed = true
      abort?.abort()
    },
  }
}
