/**
 * The JWT feature in-process (no sockets): per-route compilation, synchronous stages for keys at
 * hand, 401/403 with WWW-Authenticate, the token cache (hit, expiry with the token, rotation,
 * verifier change), and prepare's reuse and ConfigError.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Registry } from 'prom-client'
import { createJwtFeature } from '../../src/auth/jwt-feature.js'
import { compileJwtVerifier, type JwtVerifier } from '../../src/auth/jwt-verifier.js'
import { compileProblems } from '../../src/check.js'
import { ConfigError, normalizeConfig, type GatewaySettings } from '../../src/config/index.js'
import type { Feature, PreparedFeature, StageRun } from '../../src/pipeline/feature.js'
import type { ProxyRequest } from '../../src/proxy/request.js'
import type { RequestContext } from '../../src/request-context.js'
import { compileRouteTable } from '../../src/routing/route-table.js'
import type { CompiledRoute } from '../../src/routing/types.js'
import { startKeyServer } from '../security/key-server.js'
import { hs256, nowSec, rsaKeyPair, SECRET, tempFile } from '../security/tokens.js'
import { newRequestContext } from '../../src/request-context.js'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const quiet = { warn: () => {}, debug: () => {} }

function config(jwt: Record<string, unknown>, extraRoute: Record<string, unknown> = {}): GatewaySettings {
  return normalizeConfig({
    jwt,
    pools: { main: { backends: ['http://127.0.0.1:9'] } },
    routes: [
      { name: 'open', match: { path: '/open' }, pool: 'main' },
      { name: 'api', match: { path: '/api' }, pool: 'main', jwt: true },
      { name: 'admin', match: { path: '/admin' }, pool: 'main', jwt: { claims: { role: 'admin' }, forwardClaims: { sub: 'x-user-id' } } },
      { name: 'maybe', match: { path: '/maybe' }, pool: 'main', jwt: { required: false } },
      { name: 'extra', match: { path: '/extra' }, pool: 'main', ...extraRoute },
    ],
  })
}

const HS = { secret: SECRET, algorithms: ['HS256'] }

function request(authorization?: string): ProxyRequest {
  return { method: 'GET', url: '/api', headers: authorization === undefined ? {} : { authorization }, raw: { socket: { remoteAddress: '10.0.0.1' } } } as never
}

function context(route: CompiledRoute): RequestContext {
  return newRequestContext({
    id: 'req-1',
    startedAt: 0,
    state: {} as never,
    protocol: 'http',
    clientIp: '10.0.0.1',
    peerTrusted: false,
    path: '/api',
    query: '',
    route,
    upstreamPath: '/api',
  })
}

interface Rig {
  feature: Feature
  registry: Registry
  prepared: PreparedFeature
  stage(name: string): StageRun
  route(name: string): CompiledRoute
}

async function rig(settings: GatewaySettings, feature?: Feature, registry = new Registry()): Promise<Rig> {
  const f = feature ?? createJwtFeature({ log: quiet, registry })
  if (feature === undefined) cleanups.push(() => f.close?.())
  const prepared = await f.prepare!(settings, undefined)
  prepared.commit?.()
  const table = compileRouteTable(settings.routes)
  return {
    feature: f,
    registry,
    prepared,
    route: (name) => table.get(name)!,
    stage(name) {
      const rf = prepared.compileRoute!(table.get(name)!)
      expect(rf?.stage?.phase).toBe('auth')
      return rf!.stage!.run
    },
  }
}

function failure(run: () => unknown): { code?: string; statusCode?: number } {
  try {
    run()
  } catch (err) {
    return err as { code?: string; statusCode?: number }
  }
  throw new Error('expected the stage to throw')
}

describe('compileRoute', () => {
  it('gives routes without jwt nothing, and jwt routes one auth stage', async () => {
    const r = await rig(config(HS))
    expect(r.prepared.compileRoute!(r.route('open'))).toBeUndefined()
    expect(r.prepared.compileRoute!(r.route('extra'))).toBeUndefined()
    expect(r.prepared.compileRoute!(r.route('api'))).toMatchObject({ stage: { phase: 'auth' } })
    expect(r.prepared.compileRoute!(r.route('api'))!.middleware).toBeUndefined()
  })
})

describe('the stage', () => {
  it('verifies an HS256 token synchronously: no promise, claims in the context', async () => {
    const r = await rig(config(HS))
    const ctx = context(r.route('api'))
    const out = r.stage('api')(request(`Bearer ${hs256({ sub: 'u1', exp: nowSec() + 60 })}`), ctx)
    expect(out).toBeUndefined()
    expect(ctx.claims).toMatchObject({ sub: 'u1' })
    expect(ctx.responseHeaders).toBeUndefined()
  })

  it('refuses a missing, malformed or badly signed token with 401 and WWW-Authenticate invalid_token, and counts it', async () => {
    const r = await rig(config(HS))
    const run = r.stage('api')
    const cases: [string | undefined, string][] = [
      [undefined, 'SWITCHYARD_JWT_MISSING'],
      ['Bearer ', 'SWITCHYARD_JWT_MALFORMED'],
      ['Bearer not.a-token', 'SWITCHYARD_JWT_MALFORMED'],
      [`Bearer ${hs256({ sub: 'u1' }, 'another-secret-that-is-long-enough!!')}`, 'SWITCHYARD_JWT_INVALID'],
      [`Bearer ${hs256({ sub: 'u1', exp: nowSec() - 10 })}`, 'SWITCHYARD_JWT_EXPIRED'],
    ]
    for (const [auth, code] of cases) {
      const ctx = context(r.route('api'))
      const err = failure(() => run(request(auth), ctx))
      expect(err, String(auth)).toMatchObject({ code, statusCode: 401 })
      expect(ctx.responseHeaders).toEqual({ 'www-authenticate': 'Bearer error="invalid_token"' })
      expect(ctx.claims).toBeUndefined()
    }
    const text = await r.registry.metrics()
    expect(text).toMatch(/switchyard_jwt_rejected_total\{route="api",code="SWITCHYARD_JWT_MISSING"\} 1/)
    expect(text).toMatch(/switchyard_jwt_rejected_total\{route="api",code="SWITCHYARD_JWT_INVALID"\} 1/)
  })

  it('answers 403 insufficient_scope for a missing route claim, and forwards claims upstream when it is there', async () => {
    const r = await rig(config(HS))
    const run = r.stage('admin')
    const ctx = context(r.route('admin'))
    const err = failure(() => run(request(`Bearer ${hs256({ sub: 'u1', role: 'user' })}`), ctx))
    expect(err).toMatchObject({ code: 'SWITCHYARD_JWT_FORBIDDEN', statusCode: 403 })
    expect(ctx.responseHeaders).toEqual({ 'www-authenticate': 'Bearer error="insufficient_scope"' })
    expect(ctx.claims).toBeUndefined()

    const ok = context(r.route('admin'))
    ok.upstreamHeaders = { traceparent: 't' }
    expect(run(request(`Bearer ${hs256({ sub: 'u7', role: 'admin' })}`), ok)).toBeUndefined()
    expect(ok.upstreamHeaders).toEqual({ traceparent: 't', 'x-user-id': 'u7' })
    expect(ok.claims).toMatchObject({ sub: 'u7', role: 'admin' })
  })

  it('lets anonymous requests through `required: false`, but still checks a token that is sent', async () => {
    const r = await rig(config(HS))
    const run = r.stage('maybe')
    const anon = context(r.route('maybe'))
    expect(run(request(), anon)).toBeUndefined()
    expect(anon.claims).toBeUndefined()
    expect(failure(() => run(request('Bearer x.y.z'), context(r.route('maybe'))))).toMatchObject({ statusCode: 401 })
  })

  it('answers 503 on jwt routes when the settings have no jwt section (the loader refuses that; embedders may not)', async () => {
    const r = await rig({ ...config(HS), jwt: undefined })
    const err = failure(() => r.stage('api')(request(`Bearer ${hs256({ sub: 'u1' })}`), context(r.route('api'))))
    expect(err).toMatchObject({ code: 'SWITCHYARD_JWT_KEYS_UNAVAILABLE', statusCode: 503 })
  })

  it('answers a repeated token from the cache: the very same claims object, no second verification', async () => {
    const r = await rig(config(HS))
    const run = r.stage('api')
    const token = `Bearer ${hs256({ sub: 'u1', exp: nowSec() + 60 })}`
    const a = context(r.route('api'))
    const b = context(r.route('api'))
    run(request(token), a)
    expect(run(request(token), b)).toBeUndefined()
    expect(b.claims).toBe(a.claims)
  })
})

describe('the token cache', () => {
  function hsVerifier(clock: { now: number }, clockTolerance = 0): JwtVerifier {
    const v = compileJwtVerifier({ algorithms: ['HS256'], secret: SECRET, clockTolerance }, { now: () => clock.now })
    cleanups.push(() => v.close())
    return v
  }

  it('verifies a token once and serves it from the cache until exp + clockTolerance, never after', () => {
    const clock = { now: Date.now() }
    const v = hsVerifier(clock, 5000)
    const exp = nowSec() + 60
    const token = hs256({ sub: 'u1', exp })
    const first = v.check(token)
    expect(first).toMatchObject({ sub: 'u1' })
    expect(v.check(token)).toBe(first)
    expect(v.stats).toEqual({ verified: 1, cacheHits: 1 })
    clock.now = exp * 1000 + 5000
    expect(v.check(token)).toBe(first)
    expect(v.stats).toEqual({ verified: 1, cacheHits: 2 })
    // One ms past exp + tolerance the cached entry is gone: the token is checked again.
    clock.now = exp * 1000 + 5001
    const again = v.check(token)
    expect(again).not.toBe(first)
    expect(v.stats).toEqual({ verified: 2, cacheHits: 2 })
  })

  it('caches tokens without exp for at most cacheTtl, and never caches failures', () => {
    const clock = { now: Date.now() }
    const v = compileJwtVerifier({ algorithms: ['HS256'], secret: SECRET, clockTolerance: 0 }, { now: () => clock.now, cacheTtl: 1000 })
    cleanups.push(() => v.close())
    const token = hs256({ sub: 'forever' })
    v.check(token)
    v.check(token)
    clock.now += 1001
    v.check(token)
    expect(v.stats).toEqual({ verified: 2, cacheHits: 1 })
    const bad = hs256({ sub: 'u' }, 'another-secret-that-is-long-enough!!')
    for (let i = 0; i < 3; i++) expect(() => v.check(bad)).toThrow(/signature rejected/)
    expect(v.stats.verified).toBe(5)
  })

  it('is bounded in entries (least recently used forgotten) and can be disabled', () => {
    const clock = { now: Date.now() }
    const small = compileJwtVerifier({ algorithms: ['HS256'], secret: SECRET, clockTolerance: 0 }, { now: () => clock.now, cacheSize: 2 })
    const none = compileJwtVerifier({ algorithms: ['HS256'], secret: SECRET, clockTolerance: 0 }, { cacheSize: 0 })
    cleanups.push(() => small.close(), () => none.close())
    const [t1, t2, t3] = ['a', 'b', 'c'].map((sub) => hs256({ sub }))
    for (const t of [t1, t2, t3, t1]) small.check(t!)
    expect(small.stats).toEqual({ verified: 4, cacheHits: 0 })
    small.check(t1!)
    expect(small.stats.cacheHits).toBe(1)
    none.check(t1!)
    none.check(t1!)
    expect(none.stats).toEqual({ verified: 2, cacheHits: 0 })
  })

  it('with a JWKS: a promise only while the key must be fetched, then synchronous; a key rotation drops cached tokens', async () => {
    const ks = await startKeyServer()
    cleanups.push(() => ks.close())
    const first = rsaKeyPair('k1')
    ks.serve({ keys: [first.jwk] })
    const v = compileJwtVerifier({ algorithms: ['RS256'], jwksUrl: ks.url, clockTolerance: 0 }, { jwks: { minRefetchInterval: 0, retryInterval: 0 } })
    cleanups.push(() => v.close())
    const token = first.sign({ sub: 'u1', exp: nowSec() + 60 })
    const pending = v.check(token)
    expect(pending).toBeInstanceOf(Promise)
    const claims = await pending
    expect(v.check(token)).toBe(claims)
    // A second token under the loaded key: verified synchronously, no fetch.
    const other = first.sign({ sub: 'u2' })
    expect(v.check(other)).toMatchObject({ sub: 'u2' })
    expect(ks.hits).toBe(1)

    // The IdP replaces the key (same kid, new material): the cached token must be checked again,
    // against the new key, and is refused.
    const second = rsaKeyPair('k1')
    ks.serve({ keys: [second.jwk] })
    expect(await v.jwks!.refresh()).toBe(true)
    const verifiedBefore = v.stats.verified
    expect(() => v.check(token)).toThrow(/signature rejected/)
    expect(v.stats.verified).toBe(verifiedBefore + 1)
  })
})

describe('prepare', () => {
  it('refuses a key that cannot be used with a ConfigError at jwt.<setting>, as `check` reports it', () => {
    const feature = createJwtFeature({ log: quiet, registry: new Registry() })
    cleanups.push(() => feature.close?.())
    const missing = config({ publicKey: '/nonexistent/key.pem', algorithms: ['RS256'] })
    let err: unknown
    try {
      feature.prepare!(missing, undefined)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    const problems = (err as ConfigError).problems
    expect(problems).toHaveLength(1)
    expect(problems[0]!.path).toBe('jwt.publicKey')
    expect(problems[0]!.message).toMatch(/^cannot read \/nonexistent\/key\.pem/)
    expect(problems).toEqual(compileProblems(missing))

    const pem = rsaKeyPair('k').publicPem
    const misfit = config({ publicKey: tempFile('rsa.pem', pem), algorithms: ['ES256'] })
    expect(() => feature.prepare!(misfit, undefined)).toThrow(ConfigError)
    try {
      feature.prepare!(misfit, undefined)
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([{ path: 'jwt.algorithms', message: 'ES256 cannot be verified with this rsa key' }])
      expect((e as ConfigError).problems).toEqual(compileProblems(misfit))
    }
  })

  it('reuses the serving verifier (and its token cache) when the jwt section is unchanged', async () => {
    const registry = new Registry()
    const feature = createJwtFeature({ log: quiet, registry })
    cleanups.push(() => feature.close?.())
    const a = config(HS)
    const r = await rig(a, feature, registry)
    const token = `Bearer ${hs256({ sub: 'u1', exp: nowSec() + 60 })}`
    const first = context(r.route('api'))
    r.stage('api')(request(token), first)

    // A reload that changes only a route: same verifier, so the cached claims object comes back.
    const b = config({ ...HS }, { rateLimit: { max: 5, window: '1m' } })
    const p = await feature.prepare!(b, a)
    const table = compileRouteTable(b.routes)
    const ctx = context(table.get('api')!)
    p.compileRoute!(table.get('api')!)!.stage!.run(request(token), ctx)
    expect(ctx.claims).toBe(first.claims)
    // Discarding a preparation that reused the serving verifier must not close it.
    p.discard?.()
    const again = context(r.route('api'))
    r.stage('api')(request(token), again)
    expect(again.claims).toBe(first.claims)
  })

  it('compiles a new verifier when the jwt section changes: tokens of the old secret stop verifying at once', async () => {
    const registry = new Registry()
    const feature = createJwtFeature({ log: quiet, registry })
    cleanups.push(() => feature.close?.())
    const a = config(HS)
    const r = await rig(a, feature, registry)
    const token = `Bearer ${hs256({ sub: 'u1', exp: nowSec() + 60 })}`
    r.stage('api')(request(token), context(r.route('api')))

    const NEW = 'a-brand-new-secret-of-32-bytes-or-more!'
    const b = config({ secret: NEW, algorithms: ['HS256'] })
    const p = await feature.prepare!(b, a)
    p.commit?.()
    const table = compileRouteTable(b.routes)
    const run = p.compileRoute!(table.get('api')!)!.stage!.run
    expect(failure(() => run(request(token), context(table.get('api')!)))).toMatchObject({ code: 'SWITCHYARD_JWT_INVALID' })
    const ctx = context(table.get('api')!)
    expect(run(request(`Bearer ${hs256({ sub: 'u2' }, NEW)}`), ctx)).toBeUndefined()
    expect(ctx.claims).toMatchObject({ sub: 'u2' })
  })

  it('logs verifier warnings when the configuration is committed, not when it is only prepared', async () => {
    const warnings: unknown[] = []
    const feature = createJwtFeature({ log: { warn: (o) => warnings.push(o), debug: () => {} }, registry: new Registry() })
    cleanups.push(() => feature.close?.())
    const weak = config({ secret: 'short', algorithms: ['HS256'] })
    const p = await feature.prepare!(weak, undefined)
    expect(warnings).toEqual([])
    p.discard?.()
    const q = await feature.prepare!(weak, undefined)
    q.commit?.()
    expect(warnings).toEqual([{ jwt: expect.stringMatching(/shorter than the 32 bytes HS256 needs/) }])
  })
})
