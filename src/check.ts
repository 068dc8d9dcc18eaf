/**
 * `switchyard check`: everything that can be known about a file without serving it. The
 * config layer checks shape and meaning; the features that compile parts of it (routes, the JWT
 * verifier, TLS certificates) are asked too, so `check` refuses exactly what a start or a
 * reload would refuse.
 */
import { compileJwtVerifier } from './auth/jwt-verifier.js'
import { parsePasswordHash } from './auth/password.js'
import { checkConfigFile, ConfigError, loadConfigFile, type GatewaySettings } from './config/index.js'
import { compileRouteTable } from './routing/route-table.js'
import { shadowedRoutes } from './routing/shadowed.js'
import { loadGeo } from './net/geo.js'
import { validateTlsFiles } from './tls/certificates.js'

export interface Problem {
  readonly path: string
  readonly message: string
}

/** Problems that only compiling the features reveals (the settings already passed the loader). */
export function compileProblems(settings: GatewaySettings): Problem[] {
  const problems: Problem[] = []
  try {
    compileRouteTable(settings.routes)
  } catch (err) {
    const m = /^route "([^"]*)": (.*)$/s.exec((err as Error).message)
    const index = m ? settings.routes.findIndex((r) => r.name === m[1]) : -1
    problems.push({ path: index >= 0 ? `routes[${index}]` : 'routes', message: m ? m[2]! : (err as Error).message })
  }
  if (settings.jwt) {
    try {
      compileJwtVerifier(settings.jwt).close()
    } catch (err) {
      // Messages read "jwt: publicKey: …": split off the setting named first.
      const text = (err as Error).message.replace(/^jwt: /, '')
      const m = /^(\w+): (.*)$/s.exec(text)
      problems.push(m ? { path: `jwt.${m[1]}`, message: m[2]! } : { path: 'jwt', message: text })
    }
  }
  for (const [name, issuer] of Object.entries(settings.jwtIssuers ?? {})) {
    try {
      compileJwtVerifier(issuer).close()
    } catch (err) {
      const text = (err as Error).message.replace(/^jwt: /, '')
      const m = /^(\w+): (.*)$/s.exec(text)
      problems.push(m ? { path: `jwtIssuers.${name}.${m[1]}`, message: m[2]! } : { path: `jwtIssuers.${name}`, message: text })
    }
  }
  try {
    loadGeo(settings.geoip)
  } catch (err) {
    if (err instanceof ConfigError) problems.push(...err.problems)
    else throw err
  }
  // basicAuth hashes are parsed by the basic-auth feature at start and reload: the same check.
  settings.routes.forEach((r, i) => {
    r.basicAuth?.users.forEach((u, j) => {
      const parsed = parsePasswordHash(u.hash)
      if (typeof parsed === 'string') problems.push({ path: `routes[${i}].basicAuth.users[${j}].hash`, message: parsed })
    })
  })
  return problems
}

/** Warnings: the file is valid but probably not what was meant (routes that can never match). */
export function configWarnings(settings: GatewaySettings): Problem[] {
  return shadowedRoutes(settings.routes).map((s) => ({
    path: `routes[${s.index}]`,
    message: `route "${s.name}" can never match: routes[${s.by}] ("${s.byName}") takes every request it could (the first match wins)`,
  }))
}

export async function checkGatewayFile(path: string): Promise<{ ok: true; warnings?: string[] } | { ok: false; lines: string[] }> {
  const base = await checkConfigFile(path)
  if (!base.ok) return base
  let settings: GatewaySettings
  try {
    settings = await loadConfigFile(path)
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, lines: err.lines() }
    throw err
  }
  const problems = [...compileProblems(settings), ...(await validateTlsFiles(settings.server.tls))]
  if (problems.length > 0) return { ok: false, lines: problems.map((p) => `${p.path}: ${p.message}`) }
  const warnings = configWarnings(settings).map((p) => `warning: ${p.path}: ${p.message}`)
  return warnings.length === 0 ? { ok: true } : { ok: true, warnings }
}
