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
