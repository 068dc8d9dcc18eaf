import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { simpleConfig, startGateway, type StartedGateway } from '../helpers/gateway.js'

let ups: TestUpstream[] = []
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await Promise.all(ups.map((u) => u.close()))
  ups = []
  gw = undefined
})

describe('a POST reset by its backend', () => {
  it('is answered 502 and never replayed on another backend', async () => {
    const resetter = (_req: unknown, res: { destroy(): void }): void => res.destroy()
    ups = [await startUpstream('a', resetter), await startUpstream('b', resetter)]
    gw = await startGateway(simpleConfig(ups.map((u) => u.url), { pool: { retry: { attempts: 2 } } }))
    const res = await request(`${gw.url}/orders`, { method: 'POST', body: JSON.stringify({ item: 1 }), headers: { 'content-type': 'application/json' } })
    expect(res.statusCode).toBe(502)
    expect(await res.body.json()).toMatchObject({ statusCode: 502, error: 'Bad Gateway' })
    const posts = ups.flatMap((u) => u.requests).filter((r) => r.method === 'POST')
    expect(posts).toHaveLength(1)
    expect(posts[0]!.body.toString()).toBe('{"item":1}')
  })

  it('while a GET reset the same way is retried on the next backend', async () => {
    ups = [await startUpstream('a', (_req, res) => {
      res.destroy()
    }), await startUpstream('b')]
    gw = await startGateway(simpleConfig(ups.map((u) => u.url)))
    const res = await request(`${gw.url}/orders`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['x-upstream']).toBe('b')
    await res.body.dump()
    expect(ups[0]!.requests).toHaveLength(1)
  })
})
