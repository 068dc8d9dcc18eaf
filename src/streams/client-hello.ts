/**
 * The server name of a TLS ClientHello (RFC 8446 §4.1.2, RFC 6066 §3), read from the first bytes
 * a client sends without terminating TLS. Every length is checked against what is there; the
 * handshake message may span several records (post-quantum key shares make large hellos), up
 * to MAX_HELLO bytes, beyond which the peek gives up.
 */

/** Largest ClientHello handshake message reassembled (bytes). */
export const MAX_HELLO = 32 * 1024

export type HelloResult =
  /** More bytes are needed. */
  | { readonly status: 'incomplete' }
  /** Not a TLS ClientHello (or malformed, or larger than MAX_HELLO). */
  | { readonly status: 'invalid'; readonly reason: string }
  /** A complete ClientHello; `serverName` absent when it has no (host_name) SNI. */
  | { readonly status: 'ok'; readonly serverName: string | undefined }

const INCOMPLETE: HelloResult = { status: 'incomplete' }
const invalid = (reason: string): HelloResult => ({ status: 'invalid', reason })

/** Parses what has arrived so far (`data`: every byte from the start of the connection). */
export function parseClientHello(data: Buffer): HelloResult {
  // Reassemble the handshake fragment bytes of consecutive handshake records.
  const fragments: Buffer[] = []
  let have = 0
  let need = -1 // handshake message length incl. its 4-byte header, once known
  let off = 0
  while (need < 0 || have < need) {
    if (data.length < off + 5) return INCOMPLETE
    const type = data[off]!
    const major = data[off + 1]!
    const length = data.readUInt16BE(off + 3)
    if (type !== 22) return invalid(off === 0 ? 'not a TLS handshake record' : 'handshake interrupted by another record type')
    if (major !== 3) return invalid('not a TLS record version')
    if (length === 0 || length > 16384 + 2048) return invalid('bad TLS record length')
    if (data.length < off + 5 + length) {
      // Enough of the first record to judge the message header is still useful.
      if (fragments.length === 0 && data.length >= off + 9) {
        if (data[off + 5] !== 1) return invalid('not a ClientHello')
        const msgLength = data.readUIntBE(off + 6, 3)
        if (msgLength + 4 > MAX_HELLO) return invalid('ClientHello too large')
      }
      return INCOMPLETE
    }
    const fragment = data.subarray(off + 5, off + 5 + length)
    fragments.push(fragment)
    have += fragment.length
    off += 5 + length
    if (need < 0 && have >= 4) {
      const first = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments)
      if (first[0] !== 1) return invalid('not a ClientHello')
      need = first.readUIntBE(1, 3) + 4
      if (need > MAX_HELLO) return invalid('ClientHello too large')
    }
    if (off > MAX_HELLO + 1024) return invalid('ClientHello too large')
  }
  const msg = (fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments)).subarray(4, need)
  return parseHelloBody(msg)
}

function parseHelloBody(b: Buffer): HelloResult {
  let p = 2 + 32 // legacy_version, random
  if (b.length < p + 1) return invalid('truncated ClientHello')
  p += 1 + b[p]! // legacy_session_id
  if (b.length < p + 2) return invalid('truncated ClientHello')
  p += 2 + b.readUInt16BE(p) // cipher_suites
  if (b.length < p + 1) return invalid('truncated ClientHello')
  p += 1 + b[p]! // legacy_compression_methods
  if (p === b.length) return { status: 'ok', serverName: undefined } // no extensions at all
  if (b.length < p + 2) return invalid('truncated ClientHello')
  const extEnd = p + 2 + b.readUInt16BE(p)
  if (extEnd > b.length) return invalid('extensions overrun the ClientHello')
  p += 2
  while (p + 4 <= extEnd) {
    const type = b.readUInt16BE(p)
    const len = b.readUInt16BE(p + 2)
    p += 4
    if (p + len > extEnd) return invalid('extension overruns the extensions')
    if (type === 0) return parseServerName(b.subarray(p, p + len))
    p += len
  }
  return { status: 'ok', serverName: undefined }
}

function parseServerName(e: Buffer): HelloResult {
  if (e.length < 2) return invalid('bad server_name extension')
  const listEnd = 2 + e.readUInt16BE(0)
  if (listEnd > e.length) return invalid('bad server_name list')
  let p = 2
  while (p + 3 <= listEnd) {
    const nameType = e[p]!
    const len = e.readUInt16BE(p + 1)
    p += 3
    if (p + len > listEnd) return invalid('bad server_name entry')
    if (nameType === 0) {
      const name = e.toString('latin1', p, p + len)
      // A DNS name in ASCII (A-labels); anything else is not routable by name.
      if (len === 0 || len > 253 || !/^[A-Za-z0-9.-]+$/.test(name)) return invalid('bad host_name')
      return { status: 'ok', serverName: name.toLowerCase() }
    }
    p += len
  }
  return { status: 'ok', serverName: undefined }
}
