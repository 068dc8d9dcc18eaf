/**
 * Key sources (`ip`, `header:x-user-id`, `jwt:sub`, ...) parsed once into KeySource values, so
 * the hot path switches on `kind` instead of splitting strings.
 */
import type { KeySource } from './model.js'

/** RFC 9110 §5.1: a field name is a token. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

export type KeySourceResult = { ok: true; value: KeySource } | { ok: false; message: string }

export function parseKeySource(text: string): KeySourceResult {
  if (text === 'ip' || text === 'path' || text === 'route' || text === 'apikey') return { ok: true, value: { kind: text } }
  const colon = text.indexOf(':')
  const kind = colon < 0 ? text : text.slice(0, colon)
  const name = colon < 0 ? '' : text.slice(colon + 1)
  switch (kind) {
    case 'header':
      if (!TOKEN.test(name)) return { ok: false, message: `"${name}" is not a valid header name` }
      return { ok: true, value: { kind: 'header', name: name.toLowerCase() } }
    case 'cookie':
      if (!TOKEN.test(name)) return { ok: false, message: `"${name}" is not a valid cookie name` }
      return { ok: true, value: { kind: 'cookie', name } }
    case 'query':
      if (name === '') return { ok: false, message: 'query: needs a parameter name' }
      return { ok: true, value: { kind: 'query', name } }
    case 'jwt':
      if (name === '') return { ok: false, message: 'jwt: needs a claim name' }
      return { ok: true, value: { kind: 'jwt', claim: name } }
    default:
      return {
        ok: false,
        message: 'must be a key source: ip, path, route, apikey, header:NAME, cookie:NAME, query:NAME or jwt:CLAIM',
      }
  }
}

/** The text form, for explain output and logs. */
export function formatKeySource(source: KeySource): string {
  switch (source.kind) {
    case 'ip':
    case 'path':
    case 'route':
    case 'apikey':
      return source.kind
    case 'jwt':
      return `jwt:${source.claim}`
    default:
      return `${source.kind}:${source.name}`
  }
}
