/**
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) a stream sends to
 * its backend first, so the backend learns the client's address behind the gateway.
 */
import { isIP } from 'node:net'

/** The v2 signature: `\r\n\r\n\0\r\nQUIT\n`. */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])

export interface ProxyAddresses {
  readonly sourceAddress: string
  readonly sourcePort: number
  readonly destAddress: string
  readonly destPort: number
}

/** `::ffff:1.2.3.4` → `1.2.3.4`, so a v4 client on a dual-stack listener is sent as TCP4. */
function unmap(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address
}

/** `PROXY TCP4 src dst sport dport\r\n`; `PROXY UNKNOWN\r\n` when the families differ or are unknown. */
export function proxyV1(a: ProxyAddresses): Buffer {
  const src = unmap(a.sourceAddress)
  const dst = unmap(a.destAddress)
  const fs = isIP(src)
  const fd = isIP(dst)
  if (fs === 0 || fs !== fd) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1')
  return Buffer.from(`PROXY TCP${fs} ${src} ${dst} ${a.sourcePort} ${a.destPort}\r\n`, 'latin1')
}

function ipv4Bytes(address: string): number[] {
  return address.split('.').map(Number)
}

function ipv6Bytes(address: string): number[] {
  let text = address
  // An embedded IPv4 tail (::ffff:1.2.3.4 that unmap left, or ::1.2.3.4).
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (tail !== null) {
    const [a, b, c, d] = ipv4Bytes(tail[1]!)
    text = `${text.slice(0, tail.index)}${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`
  }
  const [head, rest] = text.split('::') as [string, string | undefined]
  const left = head === '' ? [] : head.split(':')
  const right = rest === undefined || rest === '' ? [] : rest.split(':')
  const groups = rest === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  const out: number[] = []
  for (const g of groups) {
    const v = parseInt(g, 16)
    out.push((v >> 8) & 0xff, v & 0xff)
  }
  return out
}

/** The binary v2 header: PROXY command over TCP, or LOCAL-free UNSPEC when the families differ. */
export function proxyV2(a: ProxyAddresses): Buffer {
  const src = unmap(a.sourceAddress)
  const dst = unmap(a.destAddress)
  const fs = isIP(src)
  const fd = isIP(dst)
  const header = Buffer.alloc(16)
  PROXY_V2_SIGNATURE.copy(header, 0)
  header[12] = 0x21 // version 2, PROXY
  if (fs === 0 || fs !== fd) {
    header[13] = 0x00 // UNSPEC: the receiver uses the connection's own addresses
    header.writeUInt16BE(0, 14)
    return header
  }
  const body = fs === 4 ? Buffer.alloc(12) : Buffer.alloc(36)
  if (fs === 4) {
    header[13] = 0x11 // AF_INET, STREAM
    Buffer.from(ipv4Bytes(src)).copy(body, 0)
    Buffer.from(ipv4Bytes(dst)).copy(body, 4)
    body.writeUInt16BE(a.sourcePort, 8)
    body.writeUInt16BE(a.destPort, 10)
  } else {
    header[13] = 0x21 // AF_INET6, STREAM
    Buffer.from(ipv6Bytes(src)).copy(body, 0)
    Buffer.from(ipv6Bytes(dst)).copy(body, 16)
    body.writeUInt16BE(a.sourcePort, 32)
    body.writeUInt16BE(a.destPort, 34)
  }
  header.writeUInt16BE(body.length, 14)
  return Buffer.concat([header, body])
}

export function proxyHeader(version: 'v1' | 'v2', a: ProxyAddresses): Buffer {
  return version === 'v1' ? proxyV1(a) : proxyV2(a)
}

/** The v1 text header is at most 107 bytes including CRLF (proxy-protocol.txt §2.1). */
const V1_MAX = 107
/** A v2 header's address block is bounded here: addresses plus a few TLVs, never a body. */
const V2_MAX_BODY = 1024
const V1_PREFIX = Buffer.from('PROXY ', 'latin1')

export type ProxyHeaderResult =
  /** The bytes so far could still be a PROXY header: read more. */
  | { readonly status: 'incomplete' }
  /** The connection does not start with a PROXY header. */
  | { readonly status: 'none' }
  /** It starts like one but is malformed. */
  | { readonly status: 'invalid'; readonly reason: string }
  /**
   * A header of `length` bytes. `source` is the client it announces; absent for `PROXY UNKNOWN`,
   * a v2 LOCAL command (the outer balancer's own health check) or an unsupported family.
   */
  | { readonly status: 'ok'; readonly length: number; readonly source?: { readonly address: string; readonly port: number } }

function startsLike(data: Buffer, signature: Buffer): boolean {
  const n = Math.min(data.length, signature.length)
  return data.subarray(0, n).equals(signature.subarray(0, n))
}

/**
 * A PROXY v1 or v2 header at the start of `data` (what a trusted outer balancer sends before
 * the client's bytes). Bounded: v1 within 107 bytes, v2 with at most 1 KiB of addresses and TLVs.
 */
export function parseProxyHeader(data: Buffer): ProxyHeaderResult {
  if (data.length === 0) return { status: 'incomplete' }
  if (startsLike(data, PROXY_V2_SIGNATURE)) return data.length < 16 ? { status: 'incomplete' } : parseV2(data)
  if (startsLike(data, V1_PREFIX)) return data.length < V1_PREFIX.length ? { status: 'incomplete' } : parseV1(data)
  return { status: 'none' }
}

function parseV1(data: Buffer): ProxyHeaderResult {
  const end = data.indexOf('\r\n', 0, 'latin1')
  if (end < 0) return data.length >= V1_MAX ? { status: 'invalid', reason: 'PROXY v1 line longer than 107 bytes' } : { status: 'incomplete' }
  if (end + 2 > V1_MAX) return { status: 'invalid', reason: 'PROXY v1 line longer than 107 bytes' }
  const parts = data.toString('latin1', 0, end).split(' ')
  const length = end + 2
  if (parts[1] === 'UNKNOWN') return { status: 'ok', length }
  if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6')) return { status: 'invalid', reason: 'malformed PROXY v1 line' }
  const family = parts[1] === 'TCP4' ? 4 : 6
  const address = parts[2]!
  const port = Number(parts[4])
  if (isIP(address) !== family || isIP(parts[3]!) !== family || !/^\d{1,5}$/.test(parts[4]!) || port > 65535 || !/^\d{1,5}$/.test(parts[5]!)) {
    return { status: 'invalid', reason: 'malformed PROXY v1 addresses' }
  }
  return { status: 'ok', length, source: { address, port } }
}

function parseV2(data: Buffer): ProxyHeaderResult {
  const verCmd = data[12]!
  if (verCmd >> 4 !== 2) return { status: 'invalid', reason: 'unsupported PROXY v2 version' }
  const command = verCmd & 0x0f
  if (command > 1) return { status: 'invalid', reason: 'unknown PROXY v2 command' }
  const bodyLength = data.readUInt16BE(14)
  if (bodyLength > V2_MAX_BODY) return { status: 'invalid', reason: 'PROXY v2 header too large' }
  const length = 16 + bodyLength
  if (data.length < length) return { status: 'incomplete' }
  if (command === 0) return { status: 'ok', length } // LOCAL: the connection's own addresses
  const family = data[13]! >> 4
  const body = data.subarray(16, length)
  if (family === 1 && body.length >= 12) {
    return { status: 'ok', length, source: { address: `${body[0]}.${body[1]}.${body[2]}.${body[3]}`, port: body.readUInt16BE(8) } }
  }
  if (family === 2 && body.length >= 36) {
    const groups: string[] = []
    for (let i = 0; i < 16; i += 2) groups.push(body.readUInt16BE(i).toString(16))
    return { status: 'ok', length, source: { address: groups.join(':'), port: body.readUInt16BE(32) } }
  }
  // UNSPEC or AF_UNIX: no client address to take over.
  return { status: 'ok', length }
}
