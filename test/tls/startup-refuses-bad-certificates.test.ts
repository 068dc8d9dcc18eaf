import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createGateway } from '../../src/gateway.js'
import { ConfigError } from '../../src/config/errors.js'
import { createPki, type IssuedFiles, type TestPki } from './helpers/pki.js'

let pki: TestPki
let a: IssuedFiles
let b: IssuedFiles

beforeAll(async () => {
  pki = await createPki()
  ;[a, b] = await Promise.all([pki.issue('a', { subject: '/CN=a.test', dns: ['a.test'] }), pki.issue('b', { subject: '/CN=b.test', dns: ['b.test'] })])
})
afterAll(async () => {
  await pki?.cleanup()
})

describe('starting with unusable certificate files', () => {
  it('fails listen() with every problem located by config path, and leaves nothing listening', async () => {
    const garbage = join(pki.dir, 'garbage.pem')
    await writeFile(garbage, 'nope')
    const gw = await createGateway(
      {
        server: { host: '127.0.0.1', port: 0, tls: { port: 0, certificates: [{ cert: a.cert, key: b.key }, { cert: garbage, key: b.key, serverNames: ['b.test'] }] } },
        admin: false,
        pools: { main: { backends: ['http://127.0.0.1:9'] } },
        routes: [{ name: 'all', match: { path: '/' }, pool: 'main' }],
      },
      { logger: false, processMetrics: false },
    )
    try {
      const err = await gw.listen().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as ConfigError).lines()).toEqual([
        `server.tls.certificates[0].key: does not match the certificate in ${a.cert}`,
        'server.tls.certificates[1].cert: not a PEM certificate (expected "-----BEGIN CERTIFICATE-----")',
      ])
      expect(gw.serving).toBe(false)
      expect(gw.httpsUrl).toBeUndefined()
      expect(gw.listener.server.listening).toBe(false)
    } finally {
      await gw.close()
    }
  })
})
