/**
 * Shadow comparison (`mirror.compare`): each shadow answer is compared with the primary's
 * (status; JSON body normalised, ignored JSON Pointers left out; other bodies byte for byte),
 * counted per route by result, with the route's divergence ratio as a gauge. The client's
 * answer is the primary's, streamed as before.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { canonical, compareAnswers, strip } from '../../src/proxy/shadow-compare.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'
import { send } from './http-client.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  gw = undefined
  ups = []
})

type Answer = (url: string) => { status?: number; type?: string; body: string }

function answering(fn: Answer) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const a = fn(req.url ?? '/')
    res.writeHead(a.status ?? 200, { 'content-type': a.type ?? 'application/json' })
    res.end(a.body)
  }
}

async function setup(primary: Answer, shadow: Answer, compare: unknown): Promise<StartedGateway> {
  ups = [await startUpstream('primary', answering(primary)), await startUpstream('shadow', answering(shadow))]
  gw = await startGateway({
    pools: { main: { backends: [ups[0]!.url] }, v2: { backends: [ups[1]!.url] } },
    routes: [{ name: 'users', match: { path: '/api' }, pool: 'main', mirror: { pool: 'v2', compare } }],
  })
  return gw
}

async function metric(g: StartedGateway, series: string): Promise<number | undefined> {
  const text = (await send(`${g.adminUrl}/metrics`)).body
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const comparisons = (result: string) => `switchyard_mirror_comparisons_total{route="users",pool="v2",result="${result}"}`

describe('shadow comparison (mirror.compare)', () => {
  it('counts a shadow that answers the same JSON (members reordered, ignored parts different) as a match, and other answers as status or body divergences', async () => {
    let n = 0
    const g = await setup(
      (url) => ({ body: JSON.stringify({ id: 7, at: `primary-${n++}`, items: [{ sku: 'a', trace: 'p' }], url }) }),
      (url) =>
        url.includes('broken')
          ? { status: 500, body: '{"error":"boom"}' }
          : url.includes('other')
            ? { body: JSON.stringify({ url, id: 8, items: [{ sku: 'a' }], at: 'x' }) }
            : { body: JSON.stringify({ url, items: [{ trace: 's', sku: 'a' }], at: 'shadow', id: 7 }) },
      { ignore: ['/at', '/items/*/trace'] },
    )
    for (const path of ['/api/same/1', '/api/same/2', '/api/same/3', '/api/broken', '/api/other']) {
      const res = await send(`${g.url}${path}`)
      expect(res.status).toBe(200)
      expect(JSON.parse(res.body)).toMatchObject({ id: 7, url: path })
    }
    await waitFor(async () => (await metric(g, comparisons('match'))) === 3, 5000, 20, 'three matches')
    await waitFor(async () => (await metric(g, comparisons('status'))) === 1 && (await metric(g, comparisons('body'))) === 1, 5000, 20, 'the divergences')
    expect(await metric(g, 'switchyard_mirror_divergence_ratio{route="users"}')).toBeCloseTo(2 / 5, 5)
  })

  it('compares other bodies byte for byte, and does not compare answers larger than compare.maxBodySize (incomplete)', async () => {
    const big = 'x'.repeat(4096)
    const g = await setup(
      (url) => ({ type: 'text/plain', body: url.includes('big') ? big : 'hello' }),
      (url) => ({ type: 'text/plain', body: url.includes('big') ? big : url.includes('diff') ? 'hello!' : 'hello' }),
      { maxBodySize: '1kb' },
    )
    for (const path of ['/api/a', '/api/diff', '/api/big']) {
      const res = await send(`${g.url}${path}`)
      expect(res.body).toBe(path.includes('big') ? big : 'hello')
    }
    await waitFor(async () => (await metric(g, comparisons('incomplete'))) === 1, 5000, 20, 'the large answer not compared')
    expect(await metric(g, comparisons('match'))).toBe(1)
    expect(await metric(g, comparisons('body'))).toBe(1)
  })

  it('normalises JSON: member order does not matter, ignored pointers (RFC 6901 escapes, * for all) are left out', () => {
    expect(canonical({ b: [1, { d: 2, c: 3 }], a: null })).toBe(canonical({ a: null, b: [1, { c: 3, d: 2 }] }))
    expect(strip({ 'a/b': 1, 'm~n': 2, keep: 3, list: [{ t: 1, v: 1 }, { t: 2, v: 2 }] }, [['a/b'], ['m~n'], ['list', '*', 't']])).toEqual({ keep: 3, list: [{ v: 1 }, { v: 2 }] })
    const json = (body: string) => ({ status: 200, contentType: 'application/problem+json; charset=utf-8', body: Buffer.from(body) })
    expect(compareAnswers(json('{"a":1,"b":2}'), json('{"b":2,"a":1}'), [])).toBe('match')
    expect(compareAnswers(json('{"a":1}'), json('not json'), [])).toBe('body')
    expect(compareAnswers(json('{"a":1}'), { ...json('{"a":1}'), status: 201 }, [])).toBe('status')
  })
})
