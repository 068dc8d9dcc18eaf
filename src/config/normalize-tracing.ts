/** `tracing:` → TracingSettings: the OTLP/HTTP receiver, the sample rate and export headers. */
import type { OtlpSettings, TracingSettings } from './model.js'
import { DEFAULTS } from './defaults.js'
import { asNumber, asObject, asString, type NormalizeContext } from './read.js'

export function normalizeTracing(raw: Record<string, unknown> | undefined, ctx: NormalizeContext): TracingSettings | undefined {
  if (raw === undefined) return undefined
  const otlp = asObject(raw['otlp'])
  if (otlp === undefined) return {}
  const endpoint = asString(otlp['endpoint']) ?? ''
  let base: URL | undefined
  try {
    base = new URL(endpoint)
  } catch {
    ctx.problem('tracing.otlp.endpoint', `"${endpoint}" is not a URL (e.g. http://127.0.0.1:4318)`)
  }
  if (base !== undefined && base.protocol !== 'http:' && base.protocol !== 'https:') ctx.problem('tracing.otlp.endpoint', 'must be http:// or https://')
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(asObject(otlp['headers']) ?? {})) if (typeof v === 'string') headers[k.toLowerCase()] = v
  const settings: OtlpSettings = {
    endpoint,
    // OTLP/HTTP's traces path, as the specification's exporters append it to a base endpoint.
    tracesUrl: `${endpoint.replace(/\/+$/, '')}/v1/traces`,
    sampleRate: asNumber(otlp['sampleRate'], DEFAULTS.tracing.otlp.sampleRate),
    headers,
  }
  return { otlp: settings }
}
