/**
 * `pools:` → PoolSettings: defaults, backend URLs reduced to origins, expectStatus ranges,
 * and the checks that concern pools alone (backends, weights, fallback chains).
 */
import type {
  Algorithm,
  BackendSettings,
  CircuitBreakerSettings,
  HealthCheckSettings,
  PoolSettings,
  RetryCondition,
  RetrySettings,
} from './model.js'
import { DEFAULTS } from './defaults.js'
import { parseKeySource, TOKEN } from './key-source.js'
import { NAME, NAME_RULE } from './names.js'
import { childPath, indexPath } from './paths.js'
import {
  asBoolean,
  asDuration,
  asInteger,
  asNumber,
  asObject,
  asString,
  type NormalizeContext,
  type RawObject,
} from './read.js'
import { ALGORITHMS, GRPC_RETRY_CONDITIONS, RETRY_CONDITIONS } from './schema.js'

export function normalizePools(raw: unknown, ctx: NormalizeContext): PoolSettings[] {
  const pools: PoolSettings[] = []
  const rawPools = asObject(raw) ?? {}
  for (const [name, value] of Object.entries(rawPools)) {
    const path = childPath('pools', name)
    if (!NAME.test(name)) ctx.problem(path, `invalid pool name "${name}": ${NAME_RULE}`)
    pools.push(normalizePool(name, asObject(value) ?? {}, path, ctx))
  }
  checkFallbacks(pools, ctx)
  return pools
}

function normalizePool(name: string, raw: RawObject, path: string, ctx: NormalizeContext): PoolSettings {
  const d = DEFAULTS.pool
  const algorithm = (ALGORITHMS as readonly string[]).includes(raw['algorithm'] as string)
    ? (raw['algorithm'] as Algorithm)
    : d.algorithm
  const hashOnPath = childPath(path, 'hashOn')
  const hashOnText = asString(raw['hashOn']) ?? d.hashOn
  const hashOn = parseKeySource(hashOnText)
  if (!hashOn.ok) ctx.problem(hashOnPath, hashOn.message)
  else if (hashOn.value.kind === 'jwt') ctx.jwtKeyUses.push(hashOnPath)
  else if (hashOn.value.kind === 'apikey') ctx.problem(hashOnPath, '"apikey" is a rate-limit key only')

  const layer4 = streamProtocolOf(raw['backends'], childPath(path, 'backends'), ctx)
  const pool: {
    -readonly [K in keyof PoolSettings]: PoolSettings[K]
  } = {
    name,
    algorithm,
    hashOn: hashOn.ok ? hashOn.value : { kind: 'ip' },
    backends: normalizeBackends(raw['backends'], childPath(path, 'backends'), ctx, layer4 === 'udp' ? 'udp' : 'tcp'),
    slowStart: asDuration(raw['slowStart'], d.slowStart),
    retry: normalizeRetry(asObject(raw['retry']) ?? {}),
    timeouts: normalizeTimeouts(asObject(raw['timeouts']) ?? {}, normalizeRetry(asObject(raw['retry']) ?? {})),
    panicThreshold: asNumber(raw['panicThreshold'], d.panicThreshold),
    maxPending: asInteger(raw['maxPending'], d.maxPending),
    queueTimeout: asDuration(raw['queueTimeout'], asDuration(asObject(raw['timeouts'])?.['connect'], d.timeouts.connect)),
  }

  const sticky = asObject(raw['stickySession'])
  if (sticky !== undefined) {
    const cookie = asString(sticky['cookie']) ?? d.stickySession.cookie
    if (!TOKEN.test(cookie)) ctx.problem(childPath(childPath(path, 'stickySession'), 'cookie'), `"${cookie}" is not a valid cookie name`)
    pool.stickySession = { cookie, ttl: asDuration(sticky['ttl'], d.stickySession.ttl) }
  }

  const tls = asObject(raw['tls'])
  if (tls !== undefined) {
    const tlsPath = childPath(path, 'tls')
    const ca = asString(tls['ca'])
    const servername = asString(tls['servername'])
    pool.tls = {
      ...(ca !== undefined && { ca: ctx.file(childPath(tlsPath, 'ca'), ca) }),
      ...(servername !== undefined && { servername }),
      rejectUnauthorized: asBoolean(tls['rejectUnauthorized'], d.tls.rejectUnauthorized),
    }
  }

  const healthCheck = asObject(raw['healthCheck'])
  if (healthCheck !== undefined) pool.healthCheck = normalizeHealthCheck(healthCheck, childPath(path, 'healthCheck'), ctx, layer4 !== undefined)

  const breaker = normalizeCircuitBreaker(raw['circuitBreaker'])
  if (breaker !== undefined) pool.circuitBreaker = breaker

  const fallback = asString(raw['fallback'])
  if (fallback !== undefined) pool.fallback = fallback
  if (layer4 !== undefined) pool.streamProtocol = layer4
  const protocol = raw['protocol']
  if (protocol === 'h2' || protocol === 'h2c') {
    if (layer4 !== undefined) ctx.problem(childPath(path, 'protocol'), `${protocol} needs http:// or https:// backends, not layer-4 ones`)
    else {
      // h2 is negotiated by ALPN (RFC 9113 §3.2), h2c is prior knowledge over cleartext (§3.3):
      // the scheme of every backend must say which.
      const want = protocol === 'h2' ? 'https:' : 'http:'
      pool.backends.forEach((b, i) => {
        if (!b.url.startsWith(want)) ctx.problem(indexPath(childPath(path, 'backends'), i), `protocol ${protocol} needs ${want}// backends (${protocol === 'h2' ? 'h2c for http://' : 'h2 for https://'})`)
      })
      pool.protocol = protocol
    }
  }
  if (pool.healthCheck?.type === 'grpc' && pool.protocol === undefined) {
    ctx.problem(childPath(childPath(path, 'healthCheck'), 'type'), 'grpc health checks need protocol h2 or h2c')
  }
  return pool
}

/** The kind of backend an entry names: http(s)://, tcp://, udp:// or a bare host:port. */
function backendKind(text: string): 'http' | 'tcp' | 'udp' | 'bare' {
  if (/^tcp:\/\//i.test(text)) return 'tcp'
  if (/^udp:\/\//i.test(text)) return 'udp'
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return 'http'
  return 'bare'
}

function entryUrl(item: unknown): string | undefined {
  return typeof item === 'string' ? item : asString(asObject(item)?.['url'])
}

/**
 * Layer 4 or not, from the backends: http(s) only → an HTTP pool (undefined); tcp:// → tcp;
 * udp:// → udp; only bare host:port → any. Mixing HTTP and layer-4 entries, or tcp:// and
 * udp://, is a problem at the first entry that disagrees.
 */
function streamProtocolOf(raw: unknown, path: string, ctx: NormalizeContext): PoolSettings['streamProtocol'] {
  if (!Array.isArray(raw)) return undefined
  const kinds = raw.map((item) => {
    const url = entryUrl(item)
    return url === undefined ? undefined : backendKind(url)
  })
  const first = kinds.find((k) => k !== undefined)
  if (first === undefined) return undefined
  const http = first === 'http'
  let l4: 'tcp' | 'udp' | undefined
  for (const [i, kind] of kinds.entries()) {
    if (kind === undefined) continue
    const itemPath = typeof raw[i] === 'string' ? indexPath(path, i) : childPath(indexPath(path, i), 'url')
    if ((kind === 'http') !== http) {
      ctx.problem(itemPath, 'a pool has either HTTP backends (http://, https://) or layer-4 backends (tcp://, udp://, host:port), not both')
      return http ? undefined : 'any'
    }
    if (kind === 'tcp' || kind === 'udp') {
      if (l4 !== undefined && l4 !== kind) {
        ctx.problem(itemPath, 'a pool has either tcp:// or udp:// backends, not both (host:port fits either)')
        return l4
      }
      l4 = kind
    }
  }
  return http ? undefined : (l4 ?? 'any')
}

function normalizeBackends(raw: unknown, path: string, ctx: NormalizeContext, bareScheme: 'tcp' | 'udp'): BackendSettings[] {
  if (!Array.isArray(raw)) {
    if (raw === undefined) ctx.problem(path, 'is required')
    return []
  }
  if (raw.length === 0) {
    ctx.problem(path, 'pool has no backends')
    return []
  }
  const backends: BackendSettings[] = []
  const seen = new Map<string, number>()
  raw.forEach((item, i) => {
    const itemPath = indexPath(path, i)
    const object = asObject(item)
    const url = typeof item === 'string' ? item : asString(object?.['url'])
    const urlPath = typeof item === 'string' ? itemPath : childPath(itemPath, 'url')
    const weight = object?.['weight'] ?? DEFAULTS.pool.backendWeight
    if (url === undefined) return
    const origin = backendOrigin(url, urlPath, ctx, bareScheme)
    if (!isWeight(weight)) ctx.problem(childPath(itemPath, 'weight'), 'must be a non-negative integer')
    if (origin === undefined) return
    const earlier = seen.get(origin)
    if (earlier !== undefined) {
      ctx.problem(urlPath, `duplicate backend ${origin} (also ${indexPath(path, earlier)})`)
      return
    }
    seen.set(origin, i)
    backends.push({ url: origin, weight: isWeight(weight) ? weight : 1 })
  })
  if (backends.length > 0 && backends.every((b) => b.weight === 0)) {
    ctx.problem(path, 'all backend weights are 0: no backend can receive traffic')
  }
  return backends
}

export function isWeight(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0
}

/**
 * A layer-4 backend, `tcp://host:port`, `udp://host:port` or bare `host:port` (kept as
 * tcp://host:port), reduced to `scheme://host:port`; or a problem.
 */
function layer4Origin(text: string, path: string, ctx: NormalizeContext, bareScheme: 'tcp' | 'udp'): string | undefined {
  const kind = backendKind(text)
  if (kind === 'bare' && !/^[^\s:]+:[^\s]*$/.test(text) && !/^\[[^\s]*\]:[^\s]*$/.test(text)) {
    ctx.problem(path, `invalid URL "${text}"`)
    return undefined
  }
  const scheme = kind === 'udp' ? 'udp' : kind === 'tcp' ? 'tcp' : bareScheme
  const rest = kind === 'bare' ? text : text.slice(6)
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/?#@[\]]+):([0-9]{1,5})$/.exec(rest)
  if (m === null || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    ctx.problem(path, `"${text}" must be host:port (a port 1-65535), tcp://host:port or udp://host:port`)
    return undefined
  }
  let url: URL
  try {
    url = new URL(`${scheme}://${m[1]!}:${m[2]!}`)
  } catch {
    ctx.problem(path, `invalid address "${text}"`)
    return undefined
  }
  return `${scheme}://${url.host}`
}

/** An http(s) origin, or a problem: a backend URL names a server, not a place on it. */
function backendOrigin(text: string, path: string, ctx: NormalizeContext, bareScheme: 'tcp' | 'udp'): string | undefined {
  if (backendKind(text) !== 'http') return layer4Origin(text, path, ctx, bareScheme)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    ctx.problem(path, `invalid URL "${text}"`)
    return undefined
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.problem(path, `"${text}" must be an http:// or https:// URL`)
    return undefined
  }
  if (url.username !== '' || url.password !== '') {
    ctx.problem(path, `"${url.host}" backend URL must not contain credentials`)
    return undefined
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || /[?#]/.test(text)) {
    ctx.problem(path, `"${text}" must be an origin (scheme://host:port) without a path, query or fragment; use rewritePrefix on the route for paths`)
    return undefined
  }
  return url.origin
}

export function normalizeRetry(raw: RawObject): RetrySettings {
  const d = DEFAULTS.pool.retry
  const on = Array.isArray(raw['on'])
    ? raw['on'].filter(
        (c): c is RetryCondition =>
          (RETRY_CONDITIONS as readonly unknown[]).includes(c) ||
          (GRPC_RETRY_CONDITIONS as readonly unknown[]).includes(c) ||
          (typeof c === 'number' && Number.isInteger(c) && c >= 400 && c <= 599),
      )
    : d.on
  const backoff = asObject(raw['backoff']) ?? {}
  const base = asDuration(backoff['base'], d.backoff.base)
  const retry: { -readonly [K in keyof RetrySettings]: RetrySettings[K] } = {
    attempts: asInteger(raw['attempts'], d.attempts),
    on: [...new Set(on)],
    budget: asNumber(raw['budget'], d.budget),
    backoff: { base, max: Math.max(base, asDuration(backoff['max'], Math.max(base, d.backoff.max))) },
    honorRetryAfter: asBoolean(raw['honorRetryAfter'], d.honorRetryAfter),
  }
  if (raw['perTryTimeout'] !== undefined) retry.perTryTimeout = asDuration(raw['perTryTimeout'], 0)
  return retry
}

/**
 * The default total deadline: every try may take its connect time plus its per-try time (the
 * response timeout when no perTryTimeout is set), and every retry may wait the largest backoff:
 * `(1 + attempts) × (connect + perTry) + attempts × backoff.max`.
 */
export function defaultTotalTimeout(connect: number, response: number, retry: RetrySettings): number {
  const perTry = retry.perTryTimeout !== undefined && retry.perTryTimeout > 0 ? Math.min(retry.perTryTimeout, response) : response
  return (1 + retry.attempts) * (connect + perTry) + retry.attempts * (retry.backoff?.max ?? DEFAULTS.pool.retry.backoff.max)
}

function normalizeTimeouts(raw: RawObject, retry: RetrySettings): PoolSettings['timeouts'] {
  const d = DEFAULTS.pool.timeouts
  const connect = asDuration(raw['connect'], d.connect)
  const response = asDuration(raw['response'], d.response)
  return {
    connect,
    response,
    total: asDuration(raw['total'], defaultTotalTimeout(connect, response, retry)),
    idle: asDuration(raw['idle'], d.idle),
  }
}

/** `layer4`: a pool of tcp://, udp:// or host:port backends, whose checks default to `type: tcp` (a connect). */
function normalizeHealthCheck(raw: RawObject, path: string, ctx: NormalizeContext, layer4 = false): HealthCheckSettings {
  const d = DEFAULTS.healthCheck
  const probePath = asString(raw['path']) ?? d.path
  if (!probePath.startsWith('/')) ctx.problem(childPath(path, 'path'), 'must start with "/"')
  const expectPath = childPath(path, 'expectStatus')
  const expect = raw['expectStatus']
  let expectStatus = parseStatusRanges(d.expectStatus) as readonly (readonly [number, number])[]
  if (typeof expect === 'string' || typeof expect === 'number') {
    const parsed = parseStatusRanges(expect)
    if (typeof parsed === 'string') ctx.problem(expectPath, parsed)
    else expectStatus = parsed
  }
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(asObject(raw['headers']) ?? {})) if (typeof value === 'string') headers[name.toLowerCase()] = value
  const host = asString(raw['host'])
  return {
    type: raw['type'] === 'tcp' || (layer4 && raw['type'] === undefined) ? 'tcp' : raw['type'] === 'grpc' ? 'grpc' : 'http',
    method: (asString(raw['method']) ?? d.method).toUpperCase(),
    headers,
    ...(host !== undefined && { host }),
    path: probePath,
    interval: asDuration(raw['interval'], d.interval),
    timeout: asDuration(raw['timeout'], d.timeout),
    healthyThreshold: asInteger(raw['healthyThreshold'], d.healthyThreshold),
    unhealthyThreshold: asInteger(raw['unhealthyThreshold'], d.unhealthyThreshold),
    expectStatus,
  }
}

/** `200`, `200-399`, `200,204,300-399` → inclusive ranges; a message when malformed. */
export function parseStatusRanges(value: string | number): [number, number][] | string {
  const ranges: [number, number][] = []
  for (const part of String(value).split(',')) {
    const m = /^\s*([0-9]{3})\s*(?:-\s*([0-9]{3})\s*)?$/.exec(part)
    if (m === null) return `"${String(value)}" must be status codes like 200, 200-399 or 200,204,300-399`
    const low = Number(m[1])
    const high = m[2] === undefined ? low : Number(m[2])
    if (low < 100 || high > 599 || low > high) return `"${part.trim()}" is not a range of status codes 100-599`
    ranges.push([low, high])
  }
  return ranges
}

function normalizeCircuitBreaker(raw: unknown): CircuitBreakerSettings | undefined {
  if (raw === false) return undefined
  const d = DEFAULTS.circuitBreaker
  const o = asObject(raw) ?? {}
  return {
    consecutiveFailures: asInteger(o['consecutiveFailures'], d.consecutiveFailures),
    openDuration: asDuration(o['openDuration'], d.openDuration),
    halfOpenRequests: asInteger(o['halfOpenRequests'], d.halfOpenRequests),
    maxEjectionPercent: asNumber(o['maxEjectionPercent'], d.maxEjectionPercent),
    maxOpenDuration: Math.max(asDuration(o['openDuration'], d.openDuration), asDuration(o['maxOpenDuration'], d.maxOpenDuration)),
    ...(o['failureRate'] !== false && { failureRate: normalizeFailureRate(asObject(o['failureRate']) ?? {}) }),
  }
}

function normalizeFailureRate(o: RawObject): NonNullable<CircuitBreakerSettings['failureRate']> {
  const d = DEFAULTS.circuitBreaker.failureRate
  return {
    threshold: asNumber(o['threshold'], d.threshold),
    minRequests: asInteger(o['minRequests'], d.minRequests),
    window: asDuration(o['window'], d.window),
  }
}

/** Unknown fallback pools, and fallback chains that loop (each cycle reported once, named). */
function checkFallbacks(pools: readonly PoolSettings[], ctx: NormalizeContext): void {
  const byName = new Map(pools.map((p) => [p.name, p]))
  for (const pool of pools) {
    if (pool.fallback !== undefined && !byName.has(pool.fallback)) {
      ctx.problem(childPath(childPath('pools', pool.name), 'fallback'), `unknown pool "${pool.fallback}"`)
    }
  }
  const reported = new Set<string>()
  for (const start of pools) {
    const chain: string[] = []
    let current: PoolSettings | undefined = start
    while (current !== undefined && !chain.includes(current.name)) {
      chain.push(current.name)
      current = current.fallback === undefined ? undefined : byName.get(current.fallback)
    }
    if (current === undefined) continue
    const cycle = chain.slice(chain.indexOf(current.name))
    if (cycle.some((name) => reported.has(name))) continue
    for (const name of cycle) reported.add(name)
    ctx.problem(
      childPath(childPath('pools', cycle[0]!), 'fallback'),
      `fallback cycle: ${[...cycle, cycle[0]].join(' → ')}`,
    )
  }
}
