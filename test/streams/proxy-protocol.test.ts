import { describe, expect, test } from 'vitest'
import type { StreamSettings } from '../../src/config/model.js'
import { parseProxyHeader, proxyV1, proxyV2, PROXY_V2_SIGNATURE } from '../../src/streams/proxy-protocol.js'
import { compileSniRouter } from '../../src/streams/sni-router.js'

const V4 = { sourceAddress: '203.0.113.7', sourcePort: 5555, destAddress: '198.51.100.1', destPort: 443 }
const V6 = { sourceAddress: '2001:db8::7', sourcePort: 6000, destAddress: '2001:db8::1', destPort: 443 }

describe('PROXY protocol headers received', () => {
  test('v1 and v2 round-trip, with the bytes after the header left alone', () => {
    const v1 = Buffer.concat([proxyV1(V4), Buffer.from('data')])
    expect(parseProxyHeader(v1)).toEqual({ status: 'ok', length: v1.length - 4, source: { address: '203.0.113.7', port: 5555 } })
    const v2 = proxyV2(V6)
    expect(parseProxyHeader(v2)).toEqual({ status: 'ok', length: 52, source: { address: '2001:db8:0:0:0:0:0:7', port: 6000 } })
    expect(parseProxyHeader(proxyV2(V4))).toMatchObject({ status: 'ok', length: 28, source: { address: '203.0.113.7', port: 5555 } })
  })

  test('partial headers ask for more; other protocols are not headers', () => {
    const v2 = proxyV2(V4)
    for (const n of [1, 6, 12, 15, 20]) expect(parseProxyHeader(v2.subarray(0, n))).toEqual({ status: 'incomplete' })
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4'))).toEqual({ status: 'incomplete' })
    expect(parseProxyHeader(Buffer.from('PRO'))).toEqual({ status: 'incomplete' })
    expect(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n'))).toEqual({ status: 'none' })
    expect(parseProxyHeader(Buffer.from([0x16, 0x03, 0x01]))).toEqual({ status: 'none' })
  })

  test('UNKNOWN and LOCAL carry no address; malformed and oversized headers are refused', () => {
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({ status: 'ok', length: 15 })
    const local = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])])
    expect(parseProxyHeader(local)).toEqual({ status: 'ok', length: 16 })
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n'))).toMatchObject({ status: 'invalid' })
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 ::1 5.6.7.8 1 1\r\n'))).toMatchObject({ status: 'invalid' })
    expect(parseProxyHeader(Buffer.from(`PROXY ${'x'.repeat(120)}`))).toMatchObject({ status: 'invalid' })
    const huge = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])])
    expect(parseProxyHeader(huge)).toMatchObject({ status: 'invalid', reason: 'PROXY v2 header too large' })
  })
})

describe('SNI routing table', () => {
  const stream = (pool: string | undefined): StreamSettings => ({
    name: 't',
    protocol: 'tcp',
    host: '127.0.0.1',
    port: 0,
    ...(pool === undefined ? {} : { pool }),
    sni: [
      { name: 'a.example.com', pool: 'pa' },
      { name: '*.b.example.com', pool: 'pb' },
      { name: 'x.b.example.com', pool: 'px' },
    ],
    idleTimeout: 1000,
    maxConnections: 1,
    clientHelloTimeout: 1000,
  })

  test('exact before wildcard, one label per wildcard, then the default', () => {
    const route = compileSniRouter(stream('pd'))
    expect(route('a.example.com')).toBe('pa')
    expect(route('a.example.com.')).toBe('pa')
    expect(route('x.b.example.com')).toBe('px')
    expect(route('y.b.example.com')).toBe('pb')
    expect(route('b.example.com')).toBe('pd')
    expect(route('z.y.b.example.com')).toBe('pd')
    expect(route(undefined)).toBe('pd')
    expect(compileSniRouter(stream(undefined))('nothing.example')).toBeUndefined()
  })
})
