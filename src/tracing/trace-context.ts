/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) for a gateway hop: the gateway is
 * a participant, so the upstream gets the client's trace id with a new parent id (the
 * gateway's span), and a request without a valid `traceparent` starts a new trace.
 *
 * Parsing follows §3.2 and §4.3: lower-case hex only; version `ff` is invalid; trace id and
 * parent id must not be all zeros; a version-00 header is exactly 55 characters; a higher
 * version may carry more fields after a "-", which are dropped because we answer in
 * version 00 (§3.2.4, "parse the fields we know").
 */
import { randomFillSync } from 'node:crypto'

export interface TraceParent {
  readonly traceId: string
  readonly parentId: string
  /** The trace-flags byte; bit 0 is `sampled` (§3.2.2.5). */
  readonly flags: number
}

const ZERO_TRACE = '00000000000000000000000000000000'
const ZERO_SPAN = '0000000000000000'

function isLowerHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i)
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false
  }
  return true
}

/** The parsed header, or undefined when it is absent or invalid (then a new trace starts). */
export function parseTraceParent(header: string | string[] | undefined): TraceParent | undefined {
  // Several traceparent fields are ambiguous: treat as invalid (§3.2: a single header).
  if (typeof header !== 'string') return undefined
  const h = header.trim()
  if (h.length < 55) return undefined
  if (h.charCodeAt(2) !== 45 || h.charCodeAt(35) !== 45 || h.charCodeAt(52) !== 45) return undefined
  if (!isLowerHex(h, 0, 2) || !isLowerHex(h, 3, 35) || !isLowerHex(h, 36, 52) || !isLowerHex(h, 53, 55)) return undefined
  const version = h.slice(0, 2)
  if (version === 'ff') return undefined
  if (version === '00' ? h.length !== 55 : h.length > 55 && h.charCodeAt(55) !== 45) return undefined
  const traceId = h.slice(3, 35)
  const parentId = h.slice(36, 52)
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return undefined
  return { traceId, parentId, flags: Number.parseInt(h.slice(53, 55), 16) }
}

// Ids come from one pooled buffer refilled in bulk: one syscall per few hundred requests.
const pool = Buffer.allocUnsafe(4096)
let offset = pool.length

function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  const s = pool.toString('hex', offset, offset + bytes)
  offset += bytes
  return s
}

/** A random non-zero id of `bytes` bytes in lower-case hex. */
export function newId(bytes: 8 | 16): string {
  const zero = bytes === 8 ? ZERO_SPAN : ZERO_TRACE
  let id = randomHex(bytes)
  while (id === zero) id = randomHex(bytes)
  return id
}

/** The version-00 header for the next hop. */
export function formatTraceParent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${(flags & 0xff).toString(16).padStart(2, '0')}`
}

/** Keep only the flags this gateway understands (sampled), as §3.2.2.5 asks of version-00 writers. */
export const SAMPLED = 0x01

export interface HopTrace {
  readonly traceId: string
  /** The gateway's span id: the parent id the upstream sees. */
  readonly spanId: string
  /** The client's parent id, when the trace came from the client. */
  readonly parentId: string | undefined
  readonly traceparent: string
  /** Whether the client's trace context was used (else a new trace was started). */
  readonly continued: boolean
}

/**
 * The trace context of one hop. A new trace is sampled: without a sampler of its own, the
 * gateway lets the services behind it record the request.
 */
export function nextHop(header: string | string[] | undefined): HopTrace {
  const parent = parseTraceParent(header)
  const spanId = newId(8)
  if (parent === undefined) {
    const traceId = newId(16)
    return { traceId, spanId, parentId: undefined, traceparent: formatTraceParent(traceId, spanId, SAMPLED), continued: false }
  }
  return { traceId: parent.traceId, spanId, parentId: parent.parentId, traceparent: formatTraceParent(parent.traceId, spanId, parent.flags & SAMPLED), continued: true }
}
