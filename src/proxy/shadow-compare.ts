/**
 * Shadow comparison (`mirror.compare`): is the shadow's answer the primary's? Same status, and
 * the same body: for JSON (a `json` media type on both sides), the same value once the ignored
 * parts are left out (JSON Pointers, RFC 6901, with `*` for every member or element) and
 * whatever the order of object members; for anything else, the same bytes.
 *
 * The primary's body is copied as it streams to the client (`tapBody`), never held back: the
 * client gets each chunk when it would have without the comparison. Bodies above the limit, on
 * either side, are not compared (`too-large`), nor answers that did not arrive whole.
 */
import { Transform, type Readable } from 'node:stream'

export type CompareResult = 'match' | 'status' | 'body'

export interface ComparedAnswer {
  readonly status: number
  readonly contentType: string | undefined
  readonly body: Buffer
}

/** The comparison of two whole answers. */
export function compareAnswers(primary: ComparedAnswer, shadow: ComparedAnswer, ignore: readonly (readonly string[])[]): CompareResult {
  if (primary.status !== shadow.status) return 'status'
  if (isJson(primary.contentType) && isJson(shadow.contentType)) {
    const a = parseJson(primary.body)
    const b = parseJson(shadow.body)
    if (a.ok && b.ok) return canonical(strip(a.value, ignore)) === canonical(strip(b.value, ignore)) ? 'match' : 'body'
    if (a.ok !== b.ok) return 'body'
  }
  return primary.body.equals(shadow.body) ? 'match' : 'body'
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase()
  return type === 'application/json' || type.endsWith('+json')
}

function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  if (body.length === 0) return { ok: false }
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown }
  } catch {
    return { ok: false }
  }
}

/** The value without the ignored parts (a copy; the input is not changed). */
export function strip(value: unknown, ignore: readonly (readonly string[])[]): unknown {
  let out = value
  for (const path of ignore) {
    if (path.length === 0) return null // "" ignores the whole document
    out = without(out, path, 0)
  }
  return out
}

function without(value: unknown, path: readonly string[], at: number): unknown {
  if (typeof value !== 'object' || value === null) return value
  const seg = path[at]!
  const last = at === path.length - 1
  if (Array.isArray(value)) {
    const all = seg === '*'
    const index = all ? -1 : /^(0|[1-9][0-9]*)$/.test(seg) ? Number(seg) : -2
    if (index === -2) return value
    if (last) return all ? [] : value.filter((_, i) => i !== index)
    return value.map((v, i) => (all || i === index ? without(v, path, at + 1) : v))
  }
  const obj = value as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(obj)) {
    const hit = seg === '*' || k === seg
    if (hit && last) continue
    out[k] = hit ? without(obj[k], path, at + 1) : obj[k]
  }
  return out
}

/** JSON text with object members in code-point order: equal values, equal text. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const obj = value as Record<string, unknown>
    const keys = Object.keys(obj).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/**
 * The body as it goes to the client, with a copy of it kept up to `limit` bytes: `done` gets the
 * whole body, or undefined when it was larger, failed, or the client went away first.
 */
export function tapBody(src: Readable, limit: number, done: (body: Buffer | undefined) => void): Readable {
  const chunks: Buffer[] = []
  let size = 0
  let over = false
  let reported = false
  const report = (body: Buffer | undefined): void => {
    if (reported) return
    reported = true
    done(body)
  }
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (!over) {
        size += chunk.length
        if (size > limit) {
          over = true
          chunks.length = 0
        } else chunks.push(chunk)
      }
      cb(null, chunk)
    },
    flush(cb) {
      report(over ? undefined : Buffer.concat(chunks, size))
      cb()
    },
  })
  src.once('error', (err) => tap.destroy(err))
  // The client went away: stop the upstream body too, as a cancellation (as the cache's replay does).
  tap.once('close', () => {
    report(undefined)
    if (!src.readableEnded && !src.destroyed) src.destroy(new DOMException('client went away', 'AbortError'))
  })
  src.pipe(tap)
  return tap
}

/** Read a whole answer up to `limit` bytes; undefined when larger (the rest is dropped) or broken. */
export function readUpTo(body: Readable, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    let ended = false
    body.on('data', (c: Buffer) => {
      size += c.length
      if (size > limit) {
        body.destroy()
        resolve(undefined)
        return
      }
      chunks.push(c)
    })
    body.once('end', () => {
      ended = true
      resolve(Buffer.concat(chunks, size))
    })
    body.once('error', () => resolve(undefined))
    body.once('close', () => resolve(ended ? Buffer.concat(chunks, size) : undefined))
  })
}
