/**
 * End to end: `log.access: { file }` writes one line per request to that file (and none to the
 * gateway log); `log.access: false` writes none anywhere; without a file, lines go where the
 * gateway's logger writes, whatever its level.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { Writable } from 'node:stream'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { simpleConfig, startGateway } from '../helpers/gateway.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

let up: TestUpstream
const dir = mkdtempSync(join(tmpdir(), 'sy-access-e2e-'))
beforeAll(async () => {
  up = await startUpstream('logged')
})
afterAll(async () => {
  await up?.close()
  rmSync(dir, { recursive: true, force: true })
})

async function hit(url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await request(`${url}/things/${i}?q="x"`, { headers: { 'x-request-id': `req-${i}` } })
    await res.body.dump()
  }
}

describe('log.access', () => {
  it('{ file } writes one JSON line per request to the file, none to the gateway log', async () => {
    const file = join(dir, 'logs', 'access.log')
    const gw = await startGateway({ ...simpleConfig([up.url]), log: { access: { file } } })
    await hit(gw.url, 5)
    await gw.close()
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.map((l) => l.reqId)).toEqual(['req-0', 'req-1', 'req-2', 'req-3', 'req-4'])
    expect(lines[0]).toMatchObject({ level: 30, type: 'access', method: 'GET', path: '/things/0', route: 'all', pool: 'main', backend: up.url, status: 200, msg: 'request' })
    expect(typeof lines[0]!.time).toBe('number')
    expect(typeof lines[0]!.totalMs).toBe('number')
    expect(gw.logs.filter((l) => l.type === 'access')).toEqual([])
  })

  it('false writes no access line', async () => {
    const gw = await startGateway({ ...simpleConfig([up.url]), log: { access: false } })
    await hit(gw.url, 3)
    await new Promise((r) => setTimeout(r, 50))
    await gw.close()
    expect(gw.logs.filter((l) => l.type === 'access')).toEqual([])
    expect(gw.logs.some((l) => l.msg === 'switchyard listening')).toBe(true)
  })

  it('{ sample: 0 } logs no request; the default logs every one to the logger', async () => {
    const none = await startGateway({ ...simpleConfig([up.url]), log: { access: { sample: 0 } } })
    const all = await startGateway(simpleConfig([up.url]))
    await hit(none.url, 3)
    await hit(all.url, 3)
    await waitFor(() => all.logs.filter((l) => l.type === 'access').length === 3, 2000, 10, 'three access lines')
    await Promise.all([none.close(), all.close()])
    expect(none.logs.filter((l) => l.type === 'access')).toEqual([])
  })

  it('is independent of the level of the logger the gateway was given', async () => {
    const lines: Record<string, unknown>[] = []
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>)
        cb()
      },
    })
    const gw = await startGateway(simpleConfig([up.url]), { logger: pino({ level: 'error' }, stream) })
    await hit(gw.url, 2)
    await waitFor(() => lines.filter((l) => l.type === 'access').length === 2, 2000, 10, 'two access lines')
    await gw.close()
    expect(lines.filter((l) => l.type !== 'access')).toEqual([]) // info lines (listening) stay below the level
  })

  it('a file that cannot be created refuses to start, naming log.access.file', async () => {
    const blocker = join(dir, 'logs', 'access.log') // a file, written by the first test
    expect(existsSync(blocker)).toBe(true)
    await expect(startGateway({ ...simpleConfig([up.url]), log: { access: { file: join(blocker, 'x.log') } } })).rejects.toThrow(/log\.access\.file: cannot open/)
  })
})
