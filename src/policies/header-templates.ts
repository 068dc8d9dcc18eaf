/**
 * Header values built from the request: `${client_ip}`, `${request_id}`, `${host}`, `${path}`,
 * `${claim.NAME}`, `${apikey.name}` in a route's `headers.request.set` and `headers.response.set`
 * (e.g. `x-user: "${claim.sub}"`, `x-client: "${client_ip}"`, `x-consumer: "${apikey.name}"`).
 *
 * The configuration loader leaves these names alone when it substitutes `${ENV}` variables
 * (src/config/env.ts); environment variables are conventionally upper-case, these are not.
 *
 * Compiled once per route into a list of constant strings and getters, so a request concatenates
 * and allocates one string per header, parses nothing. The stage runs in phase `late`, after
 * authentication, so claims and the API key's name are known. A value that comes out empty is not
 * sent; a client's own copy of a templated request header is always dropped (it could otherwise
 * impersonate `${claim.sub}` when the claim is missing). Characters a header cannot carry (control
 * characters, anything above U+00FF, possible in a claim) become `?`: they would otherwise fail
 * the response or split the header.
 */
import type { HeaderRewriteSettings } from '../config/model.js'
import type { Feature, RouteFeature, StageRun } from '../pipeline/feature.js'
import type { ProxyRequest } from '../proxy/request.js'
import type { RequestContext } from '../request-context.js'
import type { CompiledRoute } from '../routing/types.js'

/** A template reference, as the loader recognises it (src/config/env.ts keeps these). */
export const TEMPLATE_REFERENCE = /\$\{(client_ip|request_id|host|path|apikey\.name|claim\.[A-Za-z0-9_.:-]+)\}/

export function hasTemplate(value: string): boolean {
  return TEMPLATE_REFERENCE.test(value)
}

type Getter = (request: ProxyRequest, ctx: RequestContext) => string

function claimText(v: unknown): string {
  if (v === undefined || v === null) return ''
  if (typeof v === 'string') return v
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ')
  return typeof v === 'object' ? JSON.stringify(v) : String(v)
}

function getterFor(name: string): Getter {
  switch (name) {
    case 'client_ip':
      return (_r, ctx) => ctx.clientIp
    case 'request_id':
      return (_r, ctx) => ctx.id
    case 'host':
      return (r) => r.headers.host ?? (r.headers[':authority'] as string | undefined) ?? ''
    case 'path':
      return (_r, ctx) => ctx.path
    case 'apikey.name':
      return (_r, ctx) => ctx.consumer ?? ''
    default: {
      const claim = name.slice('claim.'.length)
      return (_r, ctx) => claimText(ctx.claims?.[claim])
    }
  }
}

const INVALID = /[^\t\x20-\x7e\x80-\xff]/g

/** A template compiled into one function; constant text is kept as is. */
export function compileTemplate(value: string): Getter {
  const parts: (string | Getter)[] = []
  const re = new RegExp(TEMPLATE_REFERENCE.source, 'g')
  let last = 0
  for (let m = re.exec(value); m !== null; m = re.exec(value)) {
    if (m.index > last) parts.push(value.slice(last, m.index))
    parts.push(getterFor(m[1]!))
    last = m.index + m[0].length
  }
  if (last < value.length) parts.push(value.slice(last))
  const sanitize = (s: string): string => (INVALID.test(s) ? s.replace(INVALID, '?') : s)
  if (parts.length === 1 && typeof parts[0] === 'function') {
    const only = parts[0]
    return (r, ctx) => {
      INVALID.lastIndex = 0
      return sanitize(only(r, ctx))
    }
  }
  return (r, ctx) => {
    let s = ''
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!
      s += typeof p === 'string' ? p : p(r, ctx)
    }
    INVALID.lastIndex = 0
    return sanitize(s)
  }
}

function templated(set: Readonly<Record<string, string>>): [string, Getter][] {
  return Object.entries(set)
    .filter(([, v]) => hasTemplate(v))
    .map(([k, v]) => [k, compileTemplate(v)])
}

export function compileHeaderTemplates(headers: { request: HeaderRewriteSettings; response: HeaderRewriteSettings }): StageRun | undefined {
  const up = templated(headers.request.set)
  const down = templated(headers.response.set)
  if (up.length === 0 && down.length === 0) return undefined
  return (request, ctx) => {
    for (let i = 0; i < up.length; i++) {
      const [name, get] = up[i]!
      const v = get(request, ctx)
      if (v !== '') (ctx.upstreamHeaders ??= {})[name] = v
    }
    for (let i = 0; i < down.length; i++) {
      const [name, get] = down[i]!
      const v = get(request, ctx)
      if (v !== '') (ctx.responseHeaders ??= {})[name] = v
    }
  }
}

export function createHeaderTemplateFeature(): Feature {
  return {
    name: 'header-templates',
    prepare() {
      return {
        compileRoute(route: CompiledRoute): RouteFeature | undefined {
          const run = compileHeaderTemplates(route.settings.headers)
          return run === undefined ? undefined : { stage: { phase: 'late', run } }
        },
      }
    },
  }
}
