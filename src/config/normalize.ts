/**
 * The pipeline from a parsed document to GatewaySettings: `${ENV}` substitution, schema-guided
 * coercion, schema validation, normalisation with semantic checks. Every stage runs even when
 * an earlier one found problems, so a user sees them all at once; a later stage's problem at a
 * place an earlier stage already reported is dropped, because it is the same mistake seen twice.
 */
import { normalizeConfigSource } from './normalize-config-source.js'
import { isIP } from 'node:net'
import { resolve } from 'node:path'
import type {
  AcmeSettings,
  GeoipSettings,
  AdminSettings,
  CacheSettings,
  GatewaySettings,
  JwtSettings,
  LogLevel,
  LogSettings,
  ServerSettings,
  StoreSettings,
  TlsCertificateSettings,
  TlsSettings,
} from './model.js'
import { acmeCertificateFiles } from './acme-files.js'
import { coerceToSchema } from './coerce.js'
import { DEFAULTS } from './defaults.js'
import { substituteEnv, type Env } from './env.js'
import type { ConfigProblem } from './errors.js'
import { deepFreeze } from './freeze.js'
import { normalizePools } from './normalize-pools.js'
import { normalizeRoutes } from './normalize-routes.js'
import { NAME, NAME_RULE } from './names.js'
import { ordinaryRecord, plainRecord } from './plain-record.js'
import { checkPoolLayers, normalizeStreams } from './normalize-streams.js'
import { normalizeTracing } from './normalize-tracing.js'
import { childPath, indexPath, isWithin } from './paths.js'
import {
  asArray,
  asBoolean,
  asDuration,
  asInteger,
  asNumber,
  asObject,
  asSize,
  asString,
  NormalizeContext,
  type FileReference,
  type RawObject,
} from './read.js'
import { RESERVED_TARGETED_FIELDS } from '../cache/targeted.js'
import { GatewayFileSchema, JWT_ALGORITHMS, LOG_LEVELS } from './schema.js'
import { validateDocument } from './validate.js'

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

export interface NormalizeOptions {
  /** Variables for `${NAME}`; default process.env. */
  readonly env?: Env
  /** Directory relative file paths are resolved against; default the current directory. */
  readonly baseDir?: string
  /** Where the document came from (a file path), kept in the settings and in errors. */
  readonly source?: string
}

export interface Analysis {
  /** Frozen; meaningful only when `problems` is empty. */
  readonly settings: GatewaySettings
  readonly problems: readonly ConfigProblem[]
  /** Files the settings refer to (certificates, keys, CAs), for `check`. */
  readonly files: readonly FileReference[]
}

export function analyse(document: unknown, options: NormalizeOptions = {}): Analysis {
  const envProblems: ConfigProblem[] = []
  const substituted = substituteEnv(document ?? {}, options.env ?? process.env, envProblems)
  const coerced = coerceToSchema(GatewayFileSchema as unknown as Record<string, unknown>, substituted)
  const schemaProblems = validateDocument(coerced)
  const ctx = new NormalizeContext(resolve(options.baseDir ?? process.cwd()))
  const settings = build(asObject(coerced) ?? {}, ctx, options.source)
  return {
    settings: deepFreeze(settings),
    problems: inDocumentOrder(mergeStages([envProblems, schemaProblems, ctx.problems]), coerced),
    files: ctx.files,
  }
}

function mergeStages(stages: readonly (readonly ConfigProblem[])[]): ConfigProblem[] {
  const merged: ConfigProblem[] = []
  const seen = new Set<string>()
  for (const stage of stages) {
    const earlier = merged.map((p) => p.path)
    for (const problem of stage) {
      if (earlier.some((path) => isWithin(problem.path, path))) continue
      const key = `${problem.path}\u0000${problem.message}`
      if (seen.has(key)) continue
      seen.add(key)
      merged.push(problem)
    }
  }
  return merged
}

/** Problems sorted by where they are in the document (a stable sort keeps stage order within one place). */
function inDocumentOrder(problems: readonly ConfigProblem[], document: unknown): ConfigProblem[] {
  const order = new Map<string, number>()
  const visit = (value: unknown, path: string): void => {
    order.set(path, order.size)
    if (Array.isArray(value)) value.forEach((item, i) => visit(item, indexPath(path, i)))
    else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) visit(item, childPath(path, key))
    }
  }
  visit(document, '')
  const position = (path: string): number => {
    for (let p = path; ; ) {
      const found = order.get(p)
      if (found !== undefined) return found
      const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['))
      if (cut <= 0) return order.get('') ?? 0
      p = p.slice(0, cut)
    }
  }
  return problems
    .map((problem, i) => ({ problem, i, at: position(problem.path) }))
    .sort((a, b) => a.at - b.at || a.i - b.i)
    .map((entry) => entry.problem)
}

function build(raw: RawObject, ctx: NormalizeContext, source: string | undefined): GatewaySettings {
  const server = normalizeServer(asObject(raw['server']) ?? {}, ctx)
  const admin = normalizeAdmin(raw['admin'], server, ctx)
  const jwt = normalizeJwt(asObject(raw['jwt']), ctx)
  const jwtIssuers: Record<string, JwtSettings> = plainRecord()
  for (const [name, item] of Object.entries(asObject(raw['jwtIssuers']) ?? {})) {
    const base = childPath('jwtIssuers', name)
    if (name === 'default') ctx.problem(base, '"default" names the top-level jwt section; choose another name')
    else if (!NAME.test(name)) ctx.problem(base, `invalid issuer name "${name}": ${NAME_RULE}`)
    const settings = normalizeJwt(asObject(item), ctx, base)
    if (settings !== undefined && name !== 'default') jwtIssuers[name] = settings
  }
  const geoipRaw = asObject(raw['geoip'])
  let geoip: GeoipSettings | undefined
  if (geoipRaw !== undefined) {
    const g: { database?: string; header?: string } = {}
    const database = asString(geoipRaw['database'])
    if (database !== undefined) g.database = ctx.file('geoip.database', database)
    const header = asString(geoipRaw['header'])
    if (header !== undefined) {
      if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(header)) ctx.problem('geoip.header', `"${header}" is not a valid header name`)
      g.header = header.toLowerCase()
    }
    if (g.database === undefined && g.header === undefined) ctx.problem('geoip', 'needs database or header')
    geoip = g
  }
  const pools = normalizePools(raw['pools'], ctx)
  const routes = normalizeRoutes(
    raw['routes'],
    { pools: new Set(pools.map((p) => p.name)), jwtConfigured: jwt !== undefined, geoConfigured: geoip !== undefined, jwtIssuers: new Set([...Object.keys(jwtIssuers), ...(jwt !== undefined ? ['default'] : [])]) },
    ctx,
  )
  if (jwt === undefined && Object.keys(jwtIssuers).length === 0) {
    for (const path of ctx.jwtKeyUses) ctx.problem(path, 'a jwt: key needs the top-level jwt section (the token verifier)')
  }
  const settings: Mutable<GatewaySettings> = {
    server,
    admin,
    rateLimit: normalizeStore(asObject(raw['rateLimit']) ?? {}, 'rateLimit', ctx),
    cache: normalizeCache(asObject(raw['cache']) ?? {}, ctx),
    log: normalizeLog(asObject(raw['log']) ?? {}, ctx),
    pools,
    routes,
    streams: normalizeStreams(raw['streams'], { pools, server, admin }, ctx),
  }
  checkPoolLayers(raw['routes'], pools, ctx)
  const configSource = normalizeConfigSource(asObject(raw['configSource']), source, ctx)
  if (configSource !== undefined) settings.configSource = configSource
  if (jwt !== undefined) settings.jwt = jwt
  const tracing = normalizeTracing(asObject(raw['tracing']), ctx)
  if (tracing !== undefined) settings.tracing = tracing
  if (Object.keys(jwtIssuers).length > 0) settings.jwtIssuers = ordinaryRecord(jwtIssuers)
  if (geoip !== undefined) settings.geoip = geoip
  if (source !== undefined) settings.source = resolve(source)
  // Written, not read at check time (it may not exist yet): resolved like the log files.
  const stateFile = asString(asObject(raw['state'])?.['file'])
  if (stateFile !== undefined && stateFile !== '') settings.state = { file: resolve(ctx.baseDir, stateFile) }
  return settings
}

function normalizeServer(raw: RawObject, ctx: NormalizeContext): ServerSettings {
  const d = DEFAULTS.server
  const trustedProxies: string[] = []
  asArray(raw['trustedProxies']).forEach((entry, i) => {
    if (typeof entry !== 'string') return
    if (!isAddressOrCidr(entry)) ctx.problem(indexPath('server.trustedProxies', i), `"${entry}" must be an IP address or CIDR block`)
    trustedProxies.push(entry)
  })
  const server: Mutable<ServerSettings> = {
    host: asString(raw['host']) ?? d.host,
    port: asInteger(raw['port'], d.port),
    trustedProxies,
    bodyLimit: asSize(raw['bodyLimit'], d.bodyLimit),
    headersTimeout: asDuration(raw['headersTimeout'], d.headersTimeout),
    requestTimeout: asDuration(raw['requestTimeout'], d.requestTimeout),
    shutdownTimeout: asDuration(raw['shutdownTimeout'], d.shutdownTimeout),
    shutdownDelay: asDuration(raw['shutdownDelay'], d.shutdownDelay),
    maxConnections: asInteger(raw['maxConnections'], d.maxConnections),
    workers: raw['workers'] === 'auto' ? 'auto' : asInteger(raw['workers'], d.workers as number),
    maxHeaderSize: asSize(raw['maxHeaderSize'], d.maxHeaderSize),
    maxUrlLength: asSize(raw['maxUrlLength'], d.maxUrlLength),
  }
  if (raw['h2c'] === true) server.h2c = true
  const tls = asObject(raw['tls'])
  if (tls !== undefined) {
    server.tls = normalizeTls(tls, ctx)
    if (server.tls.port !== 0 && server.tls.port === server.port) {
      ctx.problem('server.tls.port', `must differ from server.port (${server.port})`)
    }
    // One ACME account and one set of pending challenges per process: worker threads would
    // each order, and a challenge could land on a worker that did not ask for it.
    if (server.tls.acme !== undefined && server.workers !== 1) ctx.problem('server.tls.acme', 'needs server.workers: 1 (ACME runs in one thread)')
  }
  return server
}

function isAddressOrCidr(text: string): boolean {
  const slash = text.indexOf('/')
  if (slash < 0) return isIP(text) !== 0
  const version = isIP(text.slice(0, slash))
  const bits = text.slice(slash + 1)
  if (version === 0 || !/^[0-9]{1,3}$/.test(bits)) return false
  return Number(bits) <= (version === 4 ? 32 : 128)
}

function normalizeTls(raw: RawObject, ctx: NormalizeContext): TlsSettings {
  const d = DEFAULTS.tls
  const path = 'server.tls'
  const clientCa = asString(raw['clientCa'])
  const clientCaFile = clientCa === undefined ? undefined : ctx.file(childPath(path, 'clientCa'), clientCa)
  const certificates: TlsCertificateSettings[] = []
  asArray(raw['certificates']).forEach((item, i) => {
    const c = asObject(item)
    const cert = asString(c?.['cert'])
    const key = asString(c?.['key'])
    if (c === undefined || cert === undefined || key === undefined) return
    const itemPath = indexPath(childPath(path, 'certificates'), i)
    certificates.push({
      cert: ctx.file(childPath(itemPath, 'cert'), cert),
      key: ctx.file(childPath(itemPath, 'key'), key),
      serverNames: asArray(c['serverNames']).filter((n): n is string => typeof n === 'string').map((n) => n.toLowerCase()),
    })
  })
  const tls: Mutable<TlsSettings> = {
    port: asInteger(raw['port'], 8443),
    minVersion: raw['minVersion'] === 'TLSv1.3' ? 'TLSv1.3' : d.minVersion,
    http2: asBoolean(raw['http2'], d.http2),
    redirectHttp: asBoolean(raw['redirectHttp'], d.redirectHttp),
    requireClientCert: asBoolean(raw['requireClientCert'], d.requireClientCert),
    certificates,
  }
  const acme = asObject(raw['acme'])
  if (acme !== undefined) {
    tls.acme = normalizeAcme(acme, childPath(path, 'acme'), ctx)
    // The ACME certificate serves its domains by SNI, and is the default when it is the only one.
    const files = acmeCertificateFiles(tls.acme)
    tls.certificates = [...certificates, { cert: files.cert, key: files.key, serverNames: certificates.length === 0 ? [] : tls.acme.domains }]
  } else if (certificates.length === 0 && raw['certificates'] === undefined) {
    ctx.problem(childPath(path, 'certificates'), 'is required (or acme)')
  }
  if (clientCaFile !== undefined) tls.clientCa = clientCaFile
  else if (tls.requireClientCert) ctx.problem(childPath(path, 'requireClientCert'), 'needs clientCa (the CA client certificates must chain to)')
  return tls
}

function normalizeAcme(raw: RawObject, path: string, ctx: NormalizeContext): AcmeSettings {
  const directory = asString(raw['directory']) ?? ''
  try {
    if (new URL(directory).protocol !== 'https:') ctx.problem(childPath(path, 'directory'), 'must be an https:// URL')
  } catch {
    ctx.problem(childPath(path, 'directory'), `"${directory}" is not a URL`)
  }
  const domains = asArray(raw['domains']).filter((d): d is string => typeof d === 'string').map((d) => d.toLowerCase())
  domains.forEach((d, i) => {
    // HTTP-01 cannot prove a wildcard (RFC 8555 §8.3); names only, no IPs.
    if (d.startsWith('*.')) ctx.problem(indexPath(childPath(path, 'domains'), i), 'a wildcard needs DNS-01, which is not supported; list the names')
    else if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(d)) ctx.problem(indexPath(childPath(path, 'domains'), i), `"${d}" is not a DNS name`)
  })
  const ca = asString(raw['ca'])
  return {
    directory,
    email: asString(raw['email']) ?? '',
    domains,
    storage: resolve(ctx.baseDir, asString(raw['storage']) ?? 'acme'),
    ...(ca !== undefined && { ca: ctx.file(childPath(path, 'ca'), ca) }),
    renewBefore: asDuration(raw['renewBefore'], DEFAULTS.tls.acmeRenewBefore),
  }
}

function normalizeAdmin(raw: unknown, server: ServerSettings, ctx: NormalizeContext): AdminSettings | false {
  if (raw === false) return false
  const d = DEFAULTS.admin
  const o = asObject(raw) ?? {}
  const admin: Mutable<AdminSettings> = {
    host: asString(o['host']) ?? d.host,
    port: asInteger(o['port'], d.port),
    token: asString(o['token']) ?? d.token,
  }
  if (o['allowedHosts'] !== undefined) admin.allowedHosts = asArray(o['allowedHosts']).filter((h): h is string => typeof h === 'string').map((h) => h.toLowerCase())
  if (admin.port !== 0 && (admin.port === server.port || admin.port === server.tls?.port)) {
    ctx.problem('admin.port', `must differ from the gateway's own ports (${admin.port} is already used)`)
  }
  return admin
}

function normalizeJwt(raw: RawObject | undefined, ctx: NormalizeContext, base = 'jwt'): JwtSettings | undefined {
  if (raw === undefined) return undefined
  const algorithms = asArray(raw['algorithms']).filter((a): a is string => (JWT_ALGORITHMS as readonly unknown[]).includes(a))
  const jwt: Mutable<JwtSettings> = {
    algorithms,
    clockTolerance: asDuration(raw['clockTolerance'], DEFAULTS.jwt.clockTolerance),
  }
  const secret = asString(raw['secret'])
  const publicKey = asString(raw['publicKey'])
  const jwksUrl = asString(raw['jwksUrl'])
  const given = [secret !== undefined && 'secret', publicKey !== undefined && 'publicKey', jwksUrl !== undefined && 'jwksUrl'].filter(
    (k): k is string => k !== false,
  )
  if (given.length !== 1) {
    ctx.problem(base, given.length === 0 ? 'needs one of secret, publicKey or jwksUrl' : `use only one of secret, publicKey, jwksUrl (found ${given.join(', ')})`)
  }
  const hmac = algorithms.filter((a) => a.startsWith('HS'))
  const asymmetric = algorithms.filter((a) => !a.startsWith('HS'))
  if (secret !== undefined) {
    // A short secret (under RFC 7518 §3.2's hash length) is a warning of the JWT verifier at
    // start, not a refusal here; an empty one verifies nothing and is refused.
    if (secret === '') ctx.problem(`${base}.secret`, 'must not be empty')
    if (asymmetric.length > 0) {
      ctx.problem(`${base}.algorithms`, `${asymmetric.join(', ')} verify with publicKey or jwksUrl, not a secret`)
    }
    jwt.secret = secret
  } else if (publicKey !== undefined || jwksUrl !== undefined) {
    if (hmac.length > 0) {
      ctx.problem(`${base}.algorithms`, `${hmac.join(', ')} verify with a shared secret, not ${publicKey !== undefined ? 'publicKey' : 'jwksUrl'}`)
    }
  }
  if (publicKey !== undefined) jwt.publicKey = ctx.file(`${base}.publicKey`, publicKey)
  if (jwksUrl !== undefined) {
    if (!isHttpUrl(jwksUrl)) ctx.problem(`${base}.jwksUrl`, `"${jwksUrl}" must be an http:// or https:// URL`)
    jwt.jwksUrl = jwksUrl
  }
  const issuer = asString(raw['issuer'])
  if (issuer !== undefined) jwt.issuer = issuer
  const audience = asString(raw['audience'])
  if (audience !== undefined) jwt.audience = audience
  return jwt
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text)
    return url.protocol === 'https:' || url.protocol === 'http:'
  } catch {
    return false
  }
}

function normalizeStore(raw: RawObject, path: string, ctx: NormalizeContext): StoreSettings {
  const d = DEFAULTS.store
  const redis = asString(raw['redis']) ?? d.redis
  if (!isRedisUrl(redis)) ctx.problem(childPath(path, 'redis'), `"${redis}" must be a redis:// or rediss:// URL`)
  return { store: raw['store'] === 'redis' ? 'redis' : d.store, redis }
}

function isRedisUrl(text: string): boolean {
  try {
    const url = new URL(text)
    return url.protocol === 'redis:' || url.protocol === 'rediss:'
  } catch {
    return false
  }
}

// RFC 9110 §5.1 field-name (token).
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

function normalizeCache(raw: RawObject, ctx: NormalizeContext): CacheSettings {
  const d = DEFAULTS.cache
  const cache: CacheSettings = {
    ...normalizeStore(raw, 'cache', ctx),
    maxSize: asSize(raw['maxSize'], d.maxSize),
    maxEntrySize: asSize(raw['maxEntrySize'], d.maxEntrySize),
    targetedField: asString(raw['targetedField']) ?? d.targetedField,
  }
  // RFC 9213 §2: a field name (token) of our own, not one that already means something else.
  if (!FIELD_NAME.test(cache.targetedField) || RESERVED_TARGETED_FIELDS.has(cache.targetedField.toLowerCase())) {
    ctx.problem('cache.targetedField', `"${cache.targetedField}" is not usable as our targeted field: a header field name other than ${[...RESERVED_TARGETED_FIELDS].join(', ')}`)
  }
  if (cache.maxEntrySize > cache.maxSize) ctx.problem('cache.maxEntrySize', `must not exceed cache.maxSize (${cache.maxSize} bytes)`)
  return cache
}

function normalizeLog(raw: RawObject, ctx: NormalizeContext): LogSettings {
  const d = DEFAULTS.log
  const level = (LOG_LEVELS as readonly unknown[]).includes(raw['level']) ? (raw['level'] as LogLevel) : d.level
  const file = asString(raw['file'])
  const rawAccess = raw['access']
  const accessObject = asObject(rawAccess)
  const accessFile = asString(accessObject?.['file'])
  const sample = asNumber(accessObject?.['sample'], d.access.sample)
  const access = {
    enabled: rawAccess === false ? false : d.access.enabled,
    sample: sample >= 0 && sample <= 1 ? sample : d.access.sample,
    ...(accessFile === undefined || accessFile === '' ? {} : { file: resolve(ctx.baseDir, accessFile) }),
  }
  // Log files are written, not read: resolved like every other path, not listed for `check` to read.
  const log: Mutable<LogSettings> = { level, access }
  if (file !== undefined && file !== '') log.file = resolve(ctx.baseDir, file)
  if (log.file !== undefined && log.file === access.file) {
    ctx.problem('log.access.file', `must differ from log.file (${log.file}); leave it out to write access lines to log.file`)
  }
  return log
}
