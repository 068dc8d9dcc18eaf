/**
 * A tiny MaxMind DB (MMDB v2) writer for tests: country records for a few networks, IPv6 tree
 * (IPv4 networks live under ::/96, as in MaxMind's own files), 24-bit records. Enough for the
 * `maxmind` reader to open it exactly as it opens a GeoLite2-Country file.
 * Format: https://maxmind.github.io/MaxMind-DB/
 */
import { isIPv4 } from 'node:net'

type Rec = number | { data: number } | null
interface Node {
  left: Rec
  right: Rec
}

function bitsOf(network: string): { bits: number[]; length: number } {
  const [addr, lenText] = network.split('/') as [string, string | undefined]
  const bytes: number[] = []
  let length: number
  if (isIPv4(addr)) {
    for (let i = 0; i < 12; i++) bytes.push(0)
    bytes.push(...addr.split('.').map(Number))
    length = 96 + Number(lenText ?? 32)
  } else {
    const [h, t] = addr.split('::') as [string, string | undefined]
    const head = h === '' ? [] : h.split(':')
    const tail = t === undefined || t === '' ? [] : t.split(':')
    const groups = t === undefined ? head : [...head, ...new Array<string>(8 - head.length - tail.length).fill('0'), ...tail]
    for (const g of groups) {
      const n = Number.parseInt(g, 16)
      bytes.push(n >> 8, n & 0xff)
    }
    length = Number(lenText ?? 128)
  }
  const bits: number[] = []
  for (let i = 0; i < length; i++) bits.push((bytes[i >> 3]! >> (7 - (i & 7))) & 1)
  return { bits, length }
}

function ctrl(type: number, size: number): number[] {
  if (size >= 29) throw new Error('test writer: sizes under 29 only')
  return type <= 7 ? [(type << 5) | size] : [size, type - 7]
}
const str = (s: string): number[] => [...ctrl(2, Buffer.byteLength(s)), ...Buffer.from(s)]
function uint(type: number, n: number | bigint, maxBytes: number): number[] {
  const bytes: number[] = []
  let v = BigInt(n)
  while (v > 0n) {
    bytes.unshift(Number(v & 0xffn))
    v >>= 8n
  }
  if (bytes.length > maxBytes) throw new Error('too large')
  return [...ctrl(type, bytes.length), ...bytes]
}
const map = (entries: [string, number[]][]): number[] => [...ctrl(7, entries.length), ...entries.flatMap(([k, v]) => [...str(k), ...v])]

/** An MMDB file mapping each network (CIDR) to a country ISO code. */
export function writeCountryMmdb(networks: Record<string, string>): Buffer {
  const nodes: Node[] = [{ left: null, right: null }]
  const data: number[] = []
  const offsets = new Map<string, number>()
  for (const [network, iso] of Object.entries(networks)) {
    let offset = offsets.get(iso)
    if (offset === undefined) {
      offset = data.length
      offsets.set(iso, offset)
      data.push(...map([['country', map([['iso_code', str(iso)]])]]))
    }
    const { bits } = bitsOf(network)
    let node = 0
    for (let i = 0; i < bits.length; i++) {
      const side = bits[i] === 0 ? 'left' : 'right'
      if (i === bits.length - 1) {
        nodes[node]![side] = { data: offset }
        break
      }
      const next = nodes[node]![side]
      if (typeof next === 'number') node = next
      else {
        nodes.push({ left: null, right: null })
        nodes[node]![side] = nodes.length - 1
        node = nodes.length - 1
      }
    }
  }
  const count = nodes.length
  const value = (r: Rec): number => (r === null ? count : typeof r === 'number' ? r : count + 16 + r.data)
  const tree = Buffer.alloc(count * 6)
  nodes.forEach((n, i) => {
    tree.writeUIntBE(value(n.left), i * 6, 3)
    tree.writeUIntBE(value(n.right), i * 6 + 3, 3)
  })
  const metadata = map([
    ['binary_format_major_version', uint(5, 2, 2)],
    ['binary_format_minor_version', uint(5, 0, 2)],
    ['build_epoch', uint(9, Math.floor(Date.now() / 1000), 8)],
    ['database_type', str('Switchyard-Test-Country')],
    ['description', map([['en', str('test data')]])],
    ['ip_version', uint(5, 6, 2)],
    ['languages', [...ctrl(11, 1), ...str('en')]],
    ['node_count', uint(6, count, 4)],
    ['record_size', uint(5, 24, 2)],
  ])
  return Buffer.concat([tree, Buffer.alloc(16), Buffer.from(data), Buffer.from('ABCDEF4D61784D696E642E636F6D', 'hex'), Buffer.from(metadata)])
}
