/**
 * Routing contracts: a route table compiled once per configuration, matched per request with
 * precompiled matchers (no regex compile, no config reads on the hot path).
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { KeySource, RouteSettings, SplitTarget } from '../config/model.js'
import type { GeoResolver } from '../net/geo.js'

/** What matching looks at. `path` is already normalised; `host` is lower-case without port. */
export interface MatchInput {
  readonly method: string
  readonly host: string
  readonly path: string
  readonly headers: IncomingHttpHeaders
  /** The client address (trustedProxies resolved, canonical), for `match.clientIp`; absent: unknown. */
  readonly clientIp?: string
  /** Whether the TCP peer is a trusted proxy (a CDN's country header is believed only then). */
  readonly peerTrusted?: boolean
}

/** What a split decision may look at besides headers. */
export interface SplitInput {
  readonly headers: IncomingHttpHeaders
  readonly clientIp: string
  readonly claims: Readonly<Record<string, unknown>> | undefined
  /** The normalised path, for `sticky: path` (rarely useful: one cohort per path). */
  readonly path?: string
  /** The raw query without "?", for `sticky: query:NAME`. */
  readonly query?: string
}

export interface SplitDecision {
  readonly pool: string
  readonly reason: 'single' | 'override' | 'sticky' | 'weighted'
  /** Sticky splits: the client key's bucket/score basis, for explain. */
  readonly stickyKey?: string
  /** A `cookie:` sticky key that was missing: the Set-Cookie value to send back. */
  readonly setCookie?: string
}

/**
 * Chooses the pool of a split. Immutable: new weights make a new selector that replaces the
 * old one in one assignment, so a request sees either the old or the new weights, never a mix.
 */
export interface SplitSelector {
  readonly targets: readonly SplitTarget[]
  readonly sticky: KeySource | undefined
  /**
   * The route's `override` request header (lower-case), if any. The proxy removes it from every
   * request of the route before forwarding, whatever its value: it is never sent upstream.
   */
  readonly overrideHeader: string | undefined
  choose(input: SplitInput): SplitDecision
}

export interface CompiledRoute {
  readonly name: string
  /** Position in the table (first match wins). */
  readonly index: number
  readonly settings: RouteSettings
  matches(input: MatchInput): boolean
  /** Why this route does not match (for explain), or undefined when it matches. */
  mismatch(input: MatchInput): string | undefined
  /** The upstream path for a matched, normalised path (rewritePrefix applied). */
  rewrite(path: string): string
  /** Replaced atomically by runtime weight changes (PUT /api/routes/:name/split). */
  split: SplitSelector
}

/** The outcome of routing: a route, or a guarded route that refuses the method (405 with `allow`). */
export type RouteResolution = { readonly route: CompiledRoute } | { readonly refused: CompiledRoute; readonly allow: string }

export interface RouteTable {
  readonly routes: readonly CompiledRoute[]
  /** The first route that matches (undefined also when a guarded route refuses the method). */
  match(input: MatchInput): CompiledRoute | undefined
  /** Like match, and says when a guarded route refuses the method rather than letting it fall through. */
  resolve(input: MatchInput): RouteResolution | undefined
  get(name: string): CompiledRoute | undefined
  /** The country resolver the table was compiled with (`geoip`), for explain. */
  readonly geo?: GeoResolver
}
