/**
 * The one reading of a key source (`ip`, `path`, `route`, `header:NAME`, `cookie:NAME`,
 * `query:NAME`, `jwt:CLAIM`) for a request. Sticky splits, consistent hashing, rate-limit keys,
 * sticky sessions and explain all read keys through here, so they agree on what a key is.
 *
 * An empty value counts as absent: a client must not be able to put itself into a shared
 * "empty" bucket or cohort by sending `x-user-id:` with nothing after it.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { KeySource } from '../config/model.js'
import { readCookie } from '../net/cookies.js'

export interface KeyInput {
  readonly clientIp: string
  readonly headers: IncomingHttpHeaders | Readonly<Record<string, string | string[] | undefined>>
  readonly claims: Readonly<Record<string, unknown>> | undefined
  /** The normalised path. */
  readonly path?: string
  /** The raw query without "?". */
  readonly query?: string
  /** The matched route's name. */
  readonly route?: string
  /** The authenticated consumer (API key name, basic-auth user). */
  readonly consumer?: string
}

function nonEmpty(v: string | undefined | null): string | undefined {
  return v === undefined || v === null || v.length === 0 ? undefined : v
}

export function keyValueOf(source: KeySource, input: KeyInput): string | undefined {
  switch (source.kind) {
    case 'ip':
      return nonEmpty(input.clientIp)
    case 'path':
      return nonEmpty(input.path)
    case 'route':
      return nonEmpty(input.route)
    case 'header': {
      const v = input.headers[source.name]
      return nonEmpty(Array.isArray(v) ? v[0] : v)
    }
    case 'cookie':
      return readCookie(input.headers.cookie, source.name)
    case 'query':
      // URLSearchParams only on this path: query keys are rare, and parsing is per request.
      return input.query === undefined || input.query === '' ? undefined : nonEmpty(new URLSearchParams(input.query).get(source.name))
    case 'apikey':
      return nonEmpty(input.consumer)
    case 'jwt': {
      const v = input.claims?.[source.claim]
      if (v === undefined || v === null) return undefined
      return nonEmpty(typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v))
    }
  }
}
