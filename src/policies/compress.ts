/**
 * Response compression per route (`compress: true | { encodings, minSize, types }`), a forward
 * middleware around whatever produces the route's response (upstream, cache, mirror).
 *
 * - The coding is negotiated from Accept-Encoding with its q-values (RFC 9110 §12.5.3): among the
 *   route's `encodings`, the one with the highest q above 0 wins, ties going to the configured
 *   order (br before gzip by default); `*` covers codings the client did not name.
 * - Only bodies worth it: a compressible media type (text-like by default), not already encoded
 *   (any Content-Encoding other than identity), not a 206 range (its ranges are of the identity
 *   body), not `Cache-Control: no-transform` (RFC 9111 §5.2.2.6, a proxy must not transform),
 *   not an event stream (compression would hold events back), and at least `minSize` when the
 *   size is known (a chunked body of unknown size is compressed).
 * - Streaming: the body is piped through node:zlib (brotli at quality 4, gzip at level 6: fast
 *   settings meant for on-the-fly compression, as NGINX and Caddy do), never buffered whole.
 *   Content-Length goes (the size is unknown until the end), a strong ETag becomes weak (the
 *   bytes differ, RFC 9110 §8.8.1), Accept-Ranges goes.
 * - `Vary: Accept-Encoding` on every response that could be compressed, whether or not this
 *   client accepted, so a cache after the gateway keeps the variants apart.
 *
 * With the route cache: this middleware wraps the cache's (features order, src/features.ts), so
 * the cache stores the upstream's representation (identity when the upstream does not compress)
 * and each answer, hit or miss, is compressed on the way out. One stored variant serves every
 * client whatever it accepts, instead of one entry per coding (and per Accept-Encoding spelling)
 * filling the cache with copies; the price is compressing hits again, at fast settings.
 *
 * Hot path: negotiation results are memoised per route for the few Accept-Encoding values
 * browsers send, so a request parses nothing after the first of its kind.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import { constants, createBrotliCompress, createGzip } from 'node:zlib'
import type { RouteCompressSettings } from '../config/model.js'
import type { Feature, RouteFeature } from '../pipeline/feature.js'
import type { ForwardMiddleware, UpstreamResponse } from '../proxy/types.js'
import { appendVary } from '../proxy/respond.js'
import type { CompiledRoute } from '../routing/types.js'

type Coding = 'br' | 'gzip'

/** The coding to use for this Accept-Encoding among `offered` (in preference order), or undefined for identity. */
export function negotiateEncoding(acceptEncoding: string | undefined, offered: readonly Coding[]): Coding | undefined {
  if (acceptEncoding === undefined || acceptEncoding === '') return undefined
  const q: Record<string, number> = {}
  let star: number | undefined
  for (const part of acceptEncoding.split(',')) {
    const semi = part.indexOf(';')
    const name = (semi < 0 ? part : part.slice(0, semi)).trim().toLowerCase()
    if (name === '') continue
    let value = 1
    if (semi >= 0) {
      const m = /(?:^|;)\s*q\s*=\s*([0-9.]+)/i.exec(part.slice(semi))
      if (m !== null) value = Number(m[1])
      if (!(value >= 0 && value <= 1)) value = 0
    }
    // x-gzip is gzip (RFC 9110 §8.4.1.3).
    const key = name === 'x-gzip' ? 'gzip' : name
    if (key === '*') star = value
    else q[key] = Math.max(q[key] ?? 0, value)
  }
  let best: Coding | undefined
  let bestQ = 0
  for (const c of offered) {
    const v = q[c] ?? star ?? 0
    if (v > bestQ) {
      best = c
      bestQ = v
    }
  }
  return best
}

/** A media-type test compiled from `types` (exact, `type/*`, `type/*+suffix`). */
export function compileTypeMatcher(types: readonly string[]): (contentType: string | undefined) => boolean {
  const exact = new Set<string>()
  const wholeTypes = new Set<string>()
  const suffixes: { type: string; suffix: string }[] = []
  for (const t of types) {
    const slash = t.indexOf('/')
    const sub = t.slice(slash + 1)
    if (sub === '*') wholeTypes.add(t.slice(0, slash))
    else if (sub.startsWith('*+')) suffixes.push({ type: t.slice(0, slash), suffix: sub.slice(1) })
    else exact.add(t)
  }
  return (contentType) => {
    if (contentType === undefined) return false
    const semi = contentType.indexOf(';')
    const mt = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
    // Server-sent events must flow as they are written; a compressor would hold them back.
    if (mt === 'text/event-stream') return false
    if (exact.has(mt)) return true
    const slash = mt.indexOf('/')
    if (slash <= 0) return false
    const type = mt.slice(0, slash)
    if (wholeTypes.has(type)) return true
    for (const s of suffixes) if (s.type === type && mt.endsWith(s.suffix)) return true
    return false
  }
}

function hasNoTransform(cc: string | string[] | undefined): boolean {
  if (cc === undefined) return false
  const v = (Array.isArray(cc) ? cc.join(',') : cc).toLowerCase()
  return v.includes('no-transform')
}

const MEMO_MAX = 32

export function compressMiddleware(s: RouteCompressSettings): ForwardMiddleware {
  const offered = s.encodings
  const minSize = s.minSize
  const compressible = compileTypeMatcher(s.types)
  const memo = new Map<string, Coding | null>()
  const choose = (ae: string | undefined): Coding | undefined => {
    if (ae === undefined) return undefined
    const hit = memo.get(ae)
    if (hit !== undefined) return hit ?? undefined
    const c = negotiateEncoding(ae, offered)
    if (memo.size < MEMO_MAX) memo.set(ae, c ?? null)
    return c
  }

  return (next) => async (request, ctx, options) => {
    const res = await next(request, ctx, options)
    if (res.body === null || (options?.purpose !== undefined && options.purpose !== 'client')) return res
    const h = res.headers
    const status = res.statusCode
    if (status < 200 || status === 204 || status === 206 || status === 304) return res
    const ce = h['content-encoding']
    if (ce !== undefined && ce !== '' && String(ce).toLowerCase() !== 'identity') return res
    if (!compressible(h['content-type']) || hasNoTransform(h['cache-control'])) return res
    const declared = h['content-length']
    const size = Buffer.isBuffer(res.body) ? res.body.length : declared === undefined ? undefined : Number(declared)
    if (size !== undefined && size < minSize) return res
    // From here the representation depends on Accept-Encoding, whatever this client sent. A copy:
    // the headers may be shared with a cache entry being stored.
    const out: IncomingHttpHeaders = { ...h }
    out['vary'] = h['vary'] === undefined || h['vary'] === '' ? 'Accept-Encoding' : appendVary(String(h['vary']), 'Accept-Encoding')
    const ae = request.headers['accept-encoding']
    const coding = choose(Array.isArray(ae) ? ae.join(',') : ae)
    if (coding === undefined) return { statusCode: status, headers: out, body: res.body }
    return encode(res, out, coding, size)
  }
}

function encode(res: UpstreamResponse, h: IncomingHttpHeaders, coding: Coding, size: number | undefined): UpstreamResponse {
  const z =
    coding === 'br'
      ? createBrotliCompress({
          params: {
            [constants.BROTLI_PARAM_QUALITY]: 4,
            [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
            ...(size !== undefined ? { [constants.BROTLI_PARAM_SIZE_HINT]: size } : {}),
          },
        })
      : createGzip({ level: 6 })
  const body = res.body!
  if (Buffer.isBuffer(body)) z.end(body)
  else {
    const source = body as Readable
    source.once('error', (err) => z.destroy(err))
    // The client went away (writeResponse destroys the body it was given): stop reading upstream.
    z.once('close', () => {
      if (!source.readableEnded) source.destroy()
    })
    source.pipe(z)
  }
  delete h['content-length']
  delete h['accept-ranges']
  h['content-encoding'] = coding
  const etag = h['etag']
  if (typeof etag === 'string' && !etag.startsWith('W/')) h['etag'] = `W/${etag}`
  return { statusCode: res.statusCode, headers: h, body: z }
}

export function createCompressFeature(): Feature {
  return {
    name: 'compress',
    prepare() {
      return {
        compileRoute(route: CompiledRoute): RouteFeature | undefined {
          const s = route.settings.compress
          return s === undefined ? undefined : { middleware: compressMiddleware(s) }
        },
      }
    },
  }
}
