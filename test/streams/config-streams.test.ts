import { describe, expect, test } from 'vitest'
import { parseConfigText } from '../../src/config/index.js'
import { linesOfYaml } from '../config/problem-lines.js'

const POOLS = `
pools:
  web: { backends: [http://127.0.0.1:9001] }
  pg: { backends: [tcp://10.0.0.1:5432, "10.0.0.2:5432", { url: "tcp://[::1]:5432", weight: 2 }] }
  dns: { backends: [udp://10.0.0.1:53, "10.0.0.2:53"] }
  any: { backends: ["db.internal:7000"] }
`

describe('streams configuration', () => {
  test('defaults, layer-4 backends and SNI entries', () => {
    const s = parseConfigText(`${POOLS}
streams:
  - { name: pg, listen: { port: 5432 }, pool: pg, proxyProtocol: v2 }
  - { name: dns, listen: { host: 127.0.0.1, port: 53 }, protocol: udp, pool: dns }
  - name: tls
    listen: { port: 8443 }
    sni: { "A.example.com": pg, "*.b.example.com": any }
    pool: any
    clientHelloTimeout: 2s
`)
    expect(s.pools.find((p) => p.name === 'pg')).toMatchObject({
      streamProtocol: 'tcp',
      backends: [
        { url: 'tcp://10.0.0.1:5432', weight: 1 },
        { url: 'tcp://10.0.0.2:5432', weight: 1 },
        { url: 'tcp://[::1]:5432', weight: 2 },
      ],
    })
    expect(s.pools.find((p) => p.name === 'dns')).toMatchObject({ streamProtocol: 'udp', backends: [{ url: 'udp://10.0.0.1:53' }, { url: 'udp://10.0.0.2:53' }] })
    expect(s.pools.find((p) => p.name === 'any')?.streamProtocol).toBe('any')
    expect(s.pools.find((p) => p.name === 'web')?.streamProtocol).toBeUndefined()
    expect(s.streams).toEqual([
      { name: 'pg', protocol: 'tcp', host: '0.0.0.0', port: 5432, pool: 'pg', proxyProtocol: 'v2', idleTimeout: 600_000, maxConnections: 10_000, clientHelloTimeout: 5_000 },
      { name: 'dns', protocol: 'udp', host: '127.0.0.1', port: 53, pool: 'dns', idleTimeout: 30_000, maxConnections: 10_000, clientHelloTimeout: 5_000 },
      {
        name: 'tls',
        protocol: 'tcp',
        host: '0.0.0.0',
        port: 8443,
        pool: 'any',
        sni: [
          { name: 'a.example.com', pool: 'pg' },
          { name: '*.b.example.com', pool: 'any' },
        ],
        idleTimeout: 600_000,
        maxConnections: 10_000,
        clientHelloTimeout: 2_000,
      },
    ])
  })

  test('semantic problems name their paths', () => {
    const lines = linesOfYaml(`${POOLS}
  mixed: { backends: [http://127.0.0.1:1, tcp://127.0.0.1:2] }
  both: { backends: [tcp://127.0.0.1:1, udp://127.0.0.1:2] }
  badaddr: { backends: ["127.0.0.1", "tcp://h:99999"] }
  l4fallback: { backends: [http://127.0.0.1:3], fallback: pg }
routes:
  - { name: r, pool: pg }
  - { name: s, split: [{ pool: web, weight: 1 }, { pool: dns, weight: 1 }] }
server: { port: 8080 }
streams:
  - { name: a, listen: { port: 9000 }, pool: nope }
  - { name: b, listen: { port: 8080 }, pool: web }
  - { name: c, listen: { port: 9001 }, protocol: udp, sni: { "x.example.com": dns }, pool: pg, proxyProtocol: v1 }
  - { name: a, listen: { port: 9000 }, sni: { "a..b": nope2 } }
  - { name: e, listen: { port: 9002 } }
`)
    expect(lines).toEqual(
      expect.arrayContaining([
        'pools.mixed.backends[1]: a pool has either HTTP backends (http://, https://) or layer-4 backends (tcp://, udp://, host:port), not both',
        'pools.both.backends[1]: a pool has either tcp:// or udp:// backends, not both (host:port fits either)',
        'pools.badaddr.backends[0]: invalid URL "127.0.0.1"',
        'pools.badaddr.backends[1]: "tcp://h:99999" must be host:port (a port 1-65535), tcp://host:port or udp://host:port',
        'pools.l4fallback.fallback: pool "pg" has tcp:// backends, this pool HTTP ones',
        'routes[0].pool: pool "pg" has layer-4 backends (tcp://); HTTP routes need http:// or https:// backends',
        'routes[1].split[1].pool: pool "dns" has layer-4 backends (udp://); HTTP routes need http:// or https:// backends',
        'streams[0].pool: unknown pool "nope"',
        'streams[1].listen.port: tcp port 8080 is already used by server.port',
        'streams[1].pool: pool "web" has HTTP backends; a tcp stream needs tcp:// or host:port backends',
        'streams[2].pool: pool "pg" has tcp:// backends; a udp stream needs udp:// or host:port backends',
        'streams[2].sni: SNI routing needs a TLS ClientHello: tcp streams only (DTLS is not supported)',
        'streams[2].proxyProtocol: is supported on tcp streams only',
        'streams[3].name: duplicate stream name "a" (also streams[0])',
        'streams[3].listen.port: tcp port 9000 is already used by streams[0] (a)',
        'streams[3].sni["a..b"]: "a..b" must be a DNS name or *.name (a wildcard covers one label)',
        'streams[3].sni["a..b"]: unknown pool "nope2"',
        'streams[4].pool: is required (or sni with at least one entry)',
      ]),
    )
    // A udp and a tcp listener may share a port number.
    expect(lines.some((l) => l.startsWith('streams[2].listen.port'))).toBe(false)
  })

  test('unknown keys inside a stream are refused', () => {
    expect(linesOfYaml(`${POOLS}
streams: [{ name: a, listen: { port: 1 }, pool: pg, idle: 5s }]
`)).toContain('streams[0].idle: unknown key "idle"')
  })
})
