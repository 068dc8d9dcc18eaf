import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { Readable } from 'node:stream'
import { createHash } from 'node:crypto'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
let raw: http.Server | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
  if (raw) await new Promise<void>((r) => raw!.close(() => r()))
  raw = undefined
})

describe('bodies stream both ways', () => {
  it('forwards a large chunked upload intact (not limited to the replay buffer)', async () => {
    // An upstream that hashes what it receives.
    raw = http.createServer((req, res) => {
      const h = createHash('sha256')
      let n = 0
      req.on('data', (c: Buffer) => {
        h.update(c)
        n += c.length
      })
      req.on('end', () => res.end(JSON.stringify({ n, sha: h.digest('hex') })))
    })
    await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`
    gw = await startGateway(simpleConfig([url]))
    const chunk = Buffer.alloc(64 * 1024, 7)
    const count = 48 // 3 MiB
    const expected = createHash('sha256')
    for (let i = 0; i < count; i++) expected.update(chunk)
    const body = Readable.from((function* () {
      for (let i = 0; i < count; i++) yield chunk
    })())
    const res = await request(`${gw.url}/upload`, { method: 'POST', body })
    expect(res.statusCode).toBe(200)
    expect(await res.body.json()).toEqual({ n: chunk.length * count, sha: expected.digest('hex') })
  })

  it('streams the response: the first chunk reaches the client before the upstream finishes', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => (release = r))
    up = await startUpstream('stream', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('first\n')
      await gate
      res.end('last\n')
    })
    gw = await startGateway(simpleConfig([up.url]))
    const res = await request(`${gw.url}/s`)
    const it = res.body[Symbol.asyncIterator]()
    const first = await it.next()
    expect(Buffer.from(first.value as Buffer).toString()).toBe('first\n')
    release()
    let rest = ''
    for (;;) {
      const n = await it.next()
      if (n.done) break
      rest += Buffer.from(n.value as Buffer).toString()
    }
    expect(rest).toBe('last\n')
  })

  it('refuses a body over bodyLimit with 413: declared length up front, chunked as it crosses', async () => {
    up = await startUpstream('a')
    gw = await startGateway(simpleConfig([up.url], { top: { server: { bodyLimit: '1kb' } } }))
    const declared = await request(`${gw.url}/x`, { method: 'POST', body: Buffer.alloc(2048, 1) })
    expect(declared.statusCode).toBe(413)
    expect(await declared.body.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large' })
    const chunked = await request(`${gw.url}/x`, {
      method: 'POST',
      body: Readable.from((function* () {
        for (let i = 0; i < 8; i++) yield Buffer.alloc(512, 2)
      })()),
    })
    expect(chunked.statusCode).toBe(413)
    await chunked.body.text()
    // Nothing complete reached the upstream for the declared one; the chunked one was cut off.
    expect(up.requests.filter((r) => r.body.length >= 2048)).toHaveLength(0)
  })
})
