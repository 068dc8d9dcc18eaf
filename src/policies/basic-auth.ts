/**
 * `basicAuth: { realm, users: [{ name, hash }] }`: HTTP Basic authentication (RFC 7617) per route,
 * phase `auth`, against scrypt hashes made by `switchyard hash-password` (src/auth/password.ts).
 *
 * - No or wrong credentials: 401 SWITCHYARD_BASIC_AUTH with `WWW-Authenticate: Basic
 *   realm="…", charset="UTF-8"` (RFC 7617 §2, §2.1), never forwarded.
 * - scrypt is slow on purpose, so verified credentials are cached per route: the cache key is an
 *   HMAC of user and password under a random key made at start (the cache holds no password and
 *   no plain hash of one), bounded to CACHE_MAX entries, forgotten on reload. A client sending the
 *   same good credentials on every request pays for one slow hash. Failures are not cached: a
 *   wrong password always costs a full verification, as it should for a guesser.
 * - An unknown user is verified against a dummy hash of the same cost, so the answer time does not
 *   tell which user names exist.
 * - At most MAX_PENDING_VERIFICATIONS slow hashes in flight per route; beyond, unremembered
 *   credentials are refused at once (a flood of guesses cannot queue unbounded work).
 * - The user's name goes to ctx.consumer (rate-limit key `apikey`, the access log). The
 *   Authorization header (which carries the password) is not forwarded upstream.
 *
 * Stored hashes are parsed once in `prepare`; a bad one is a configuration problem at
 * `routes[i].basicAuth.users[j].hash`, reported by `check` and refused by reload.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { ConfigError, type ConfigProblem } from '../config/errors.js'
import type { GatewaySettings, RouteBasicAuthSettings } from '../config/model.js'
import { parsePasswordHash, verifyPassword, type PasswordHash } from '../auth/password.js'
import type { Feature, RouteFeature, StageRun } from '../pipeline/feature.js'
import type { RequestContext } from '../request-context.js'
import type { CompiledRoute } from '../routing/types.js'
import { ERR_BASIC_AUTH } from './errors.js'

/** Verified credentials remembered per route. */
export const CACHE_MAX = 1024
/**
 * Slow verifications in flight per route. scrypt runs on libuv's small thread pool (shared with
 * file and DNS work) and takes 32 MiB each: a flood of wrong passwords must not queue without
 * bound. Past this many, further unverified credentials are refused at once (401); remembered
 * good credentials are still accepted.
 */
export const MAX_PENDING_VERIFICATIONS = 32
/** Longest Authorization value looked at: user and password of any sensible length fit. */
const MAX_CREDENTIALS = 4096

export interface BasicAuthOptions {
  /** Called for each slow verification (tests count them). */
  readonly onVerify?: () => void
}

function compiledUsers(settings: RouteBasicAuthSettings, routeIndex: number, problems: ConfigProblem[]): Map<string, PasswordHash> {
  const users = new Map<string, PasswordHash>()
  settings.users.forEach((u, j) => {
    const parsed = parsePasswordHash(u.hash)
    if (typeof parsed === 'string') problems.push({ path: `routes[${routeIndex}].basicAuth.users[${j}].hash`, message: parsed })
    else users.set(u.name, parsed)
  })
  return users
}

function stageFor(settings: RouteBasicAuthSettings, users: Map<string, PasswordHash>, dummy: PasswordHash, options: BasicAuthOptions): StageRun {
  const challenge = `Basic realm="${settings.realm}", charset="UTF-8"`
  const cacheKey = randomBytes(32)
  const verified = new Map<string, string>() // HMAC(user, password) → user
  let pending = 0
  const onVerify = options.onVerify

  const refuse = (ctx: RequestContext): never => {
    ;(ctx.responseHeaders ??= {})['www-authenticate'] = challenge
    throw new ERR_BASIC_AUTH()
  }

  return (request, ctx) => {
    const header = request.headers.authorization
    // RFC 9110 §11.1: the scheme is case-insensitive.
    if (header === undefined || header.length > MAX_CREDENTIALS || header.length < 7 || header.slice(0, 6).toLowerCase() !== 'basic ') return refuse(ctx)
    const token = header.slice(6).trim()
    const decoded = Buffer.from(token, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon <= 0) return refuse(ctx)
    const user = decoded.slice(0, colon)
    const password = decoded.slice(colon + 1)
    const key = createHmac('sha256', cacheKey).update(decoded).digest('base64')
    const known = verified.get(key)
    if (known !== undefined) {
      ctx.consumer = known
      return
    }
    if (pending >= MAX_PENDING_VERIFICATIONS) return refuse(ctx)
    const stored = users.get(user)
    onVerify?.()
    pending++
    return verifyPassword(password, stored ?? dummy).then(
      (ok) => {
        pending--
        if (!ok || stored === undefined) return refuse(ctx)
        if (verified.size >= CACHE_MAX) verified.delete(verified.keys().next().value!)
        verified.set(key, user)
        ctx.consumer = user
      },
      () => {
        pending--
        return refuse(ctx)
      },
    )
  }
}

export function createBasicAuthFeature(options: BasicAuthOptions = {}): Feature {
  // A dummy hash of the default cost, for unknown users (constant answer time). Made lazily.
  let dummy: PasswordHash | undefined
  const dummyHash = (): PasswordHash => {
    dummy ??= { ln: 15, r: 8, p: 1, salt: randomBytes(16), hash: randomBytes(32) }
    return dummy
  }
  return {
    name: 'basic-auth',
    prepare(next: GatewaySettings) {
      const problems: ConfigProblem[] = []
      const byRoute = new Map<string, Map<string, PasswordHash>>()
      next.routes.forEach((r, i) => {
        if (r.basicAuth !== undefined) byRoute.set(r.name, compiledUsers(r.basicAuth, i, problems))
      })
      if (problems.length > 0) throw new ConfigError(problems)
      return {
        compileRoute(route: CompiledRoute): RouteFeature | undefined {
          const s = route.settings.basicAuth
          if (s === undefined) return undefined
          const users = byRoute.get(route.name) ?? compiledUsers(s, route.index, [])
          // The dummy takes the cost of the route's first user, so unknown names cost the same.
          const first = users.values().next().value as PasswordHash | undefined
          const d = first === undefined ? dummyHash() : { ...first, salt: randomBytes(first.salt.length), hash: randomBytes(first.hash.length) }
          return { stage: { phase: 'auth', run: stageFor(s, users, d, options) } }
        },
      }
    },
  }
}
