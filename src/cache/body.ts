/**
 * Reading an upstream body for storage without ever holding more than the entry bound: the
 * body is buffered up to `limit` bytes; past that, what was read is replayed in front of the
 * rest and the whole streams through to the client unstored.
 */
import { PassThrough, type Readable } from 'node:stream'

export type Collected =
  | { readonly complete: true; readonly body: Buffer }
  /** `shed`: the fill budget (src/cache/fill-budget.ts) refused the bytes; `too-large`: past `limit`. */
  | { readonly complete: false; readonly stream: Readable; readonly reason: 'too-large' | 'shed' }

/**
 * `charge(n)`, when given, accounts each chunk against the in-flight fill budget before it is
 * kept; a refusal streams the body through like an oversized one.
 */
export function collectUpTo(src: Readable | Buffer | null, limit: number, charge?: (n: number) => boolean): Promise<Collected> {
  if (src === null) return Promise.resolve({ complete: true, body: EMPTY })
  if (Buffer.isBuffer(src)) {
    if (src.length > limit) return Promise.resolve({ complete: false, stream: replay([src], null), reason: 'too-large' })
    if (charge !== undefined && !charge(src.length)) return Promise.resolve({ complete: false, stream: replay([src], null), reason: 'shed' })
    return Promise.resolve({ complete: true, body: src })
  }
  const stream: Readable = src
  return new Promise<Collected>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (c: Buffer): void => {
      size += c.length
      chunks.push(c)
      const reason = size > limit ? 'too-large' : charge !== undefined && !charge(c.length) ? 'shed' : undefined
      if (reason !== undefined) {
        cleanup()
        stream.pause()
        resolve({ complete: false, stream: replay(chunks, stream), reason })
      }
    }
    const onEnd = (): void => {
      cleanup()
      resolve({ complete: true, body: Buffer.concat(chunks, size) })
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(err)
    }
    function cleanup(): void {
      stream.off('data', onData)
      stream.off('end', onEnd)
      stream.off('error', onError)
    }
    stream.on('data', onData)
    stream.once('end', onEnd)
    stream.once('error', onError)
  })
}

const EMPTY = Buffer.alloc(0)

function replay(head: readonly Buffer[], rest: Readable | null): Readable {
  const out = new PassThrough()
  for (const c of head) out.write(c)
  if (rest === null) out.end()
  else {
    rest.once('error', (err) => out.destroy(err))
    // The client went away (or nobody wants the rest, as for HEAD): stop the upstream body
    // too, as a cancellation, so its connection is released and no breaker counts a failure.
    out.once('close', () => {
      if (!rest.readableEnded && !rest.destroyed) rest.destroy(new DOMException('client went away', 'AbortError'))
    })
    rest.pipe(out)
  }
  return out
}
