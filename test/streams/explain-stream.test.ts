import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { explainCommand } from '../../src/explain/cli.js'

let dir: string
let file: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-explain-stream-'))
  file = join(dir, 'gateway.yaml')
  await writeFile(
    file,
    `
pools:
  pa: { backends: [tcp://10.0.0.1:443, tcp://10.0.0.2:443] }
  pb: { backends: ["10.0.1.1:443"], algorithm: ip-hash }
  pd: { backends: [tcp://10.0.2.1:443], fallback: pb }
streams:
  - name: tls
    listen: { port: 8443 }
    sni: { a.example.com: pa, "*.b.example.com": pb }
    pool: pd
    proxyProtocol: v2
  - { name: nodefault, listen: { port: 8444 }, sni: { a.example.com: pa } }
`,
  )
})
afterAll(() => rm(dir, { recursive: true, force: true }))

async function run(...positional: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const code = await explainCommand({ command: 'explain', config: file, headers: [], positional }, { out: (l) => (out += `${l}\n`), err: (l) => (err += `${l}\n`) })
  return { code, out, err }
}

describe('switchyard explain --stream', () => {
  test('the SNI entry, the pool chain and the first backend', async () => {
    const exact = await run('--stream', 'tls', '--sni', 'A.example.com')
    expect(exact.code).toBe(0)
    expect(JSON.parse(exact.out)).toMatchObject({
      stream: 'tls',
      protocol: 'tcp',
      selection: { by: 'sni', entry: 'a.example.com' },
      pool: 'pa',
      backend: { pool: 'pa', url: 'tcp://10.0.0.1:443' },
      outcome: { action: 'connect', message: 'connect to tcp://10.0.0.1:443 and send a PROXY v2 header' },
      pools: [{ pool: 'pa', candidates: [{ url: 'tcp://10.0.0.1:443' }, { url: 'tcp://10.0.0.2:443' }] }],
    })
    const wild = JSON.parse((await run('--stream=tls', '--sni=x.b.example.com', '--ip=203.0.113.9')).out)
    expect(wild).toMatchObject({ selection: { by: 'sni', entry: '*.b.example.com' }, pool: 'pb', clientIp: '203.0.113.9', backend: { url: 'tcp://10.0.1.1:443' } })
    expect(JSON.parse((await run('--stream', 'tls')).out)).toMatchObject({ selection: { by: 'sni-default', serverName: null }, pool: 'pd' })
    expect(JSON.parse((await run('--stream', 'nodefault', '--sni', 'z.example.com')).out)).toMatchObject({ pool: null, outcome: { action: 'close' } })
  })

  test('usage errors', async () => {
    expect(await run('--stream', 'nope')).toMatchObject({ code: 2, err: 'unknown stream "nope"; configured: tls, nodefault\n' })
    expect((await run('--stream', 'tls', 'extra')).code).toBe(2)
  })
})
