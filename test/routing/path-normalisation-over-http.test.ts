import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { rawGet } from './http-client.js'

let admin: TestUpstream
let pub: TestUpstream
let gw: StartedGateway

beforeAll(async () => {
  admin = await startUpstream('admin')
  pub = await startUpstream('public')
  gw = await startGateway({
    admin: false,
    pools: { admin: { backends: [admin.url] }, public: { backends: [pub.url] } },
    routes: [
      { name: 'admin', match: { path: '/admin' }, pool: 'admin' },
      { name: 'public', match: { path: '/public' }, pool: 'public' },
    ],
  })
})
afterAll(async () => {
  await gw?.close()
  await admin?.close()
  await pub?.close()
})

describe('path normalisation through the gateway', () => {
  it('routes every spelling of /admin to the admin route and forwards the normalised path', async () => {
    const spellings: [string, string][] = [
      ['/public/../admin', '/admin'],
      ['//admin', '/admin'],
      ['/%61dmin/x', '/admin/x'],
      ['/%2e%2e/admin', '/admin'],
      ['/public/%2E%2E/admin/./y//z', '/admin/y/z'],
      ['/admin/a%c3%a9?q=%2F..', '/admin/a%C3%A9?q=%2F..'],
    ]
    for (const [target, forwarded] of spellings) {
      const before = admin.requests.length
      const r = await rawGet(gw.url, target)
      expect(r.status, target).toBe(200)
      expect(JSON.parse(r.body).upstream, target).toBe('admin')
      expect(admin.requests.length).toBe(before + 1)
      expect(admin.requests.at(-1)!.url, target).toBe(forwarded)
    }
    expect(pub.requests).toHaveLength(0)
  })

  it('answers 400 JSON for ambiguous or malformed spellings, sending nothing upstream', async () => {
    const sent = admin.requests.length + pub.requests.length
    for (const target of ['/admin%2F..', '/public/..%2Fadmin', '/admin;jsessionid=1', '/public/..;/admin', '/public/%zz', '/public/%4', '/public\\..\\admin', '/admin%00']) {
      const r = await rawGet(gw.url, target)
      expect(r.status, target).toBe(400)
      expect(JSON.parse(r.body)).toMatchObject({ statusCode: 400, error: 'Bad Request' })
    }
    expect(admin.requests.length + pub.requests.length).toBe(sent)
  })

  it('refuses the absolute form with 400 and answers 404 JSON when no route matches', async () => {
    const abs = await rawGet(gw.url, 'http://evil.example/admin')
    expect(abs.status).toBe(400)
    const miss = await rawGet(gw.url, '/adminx')
    expect(miss.status).toBe(404)
    expect(JSON.parse(miss.body)).toMatchObject({ statusCode: 404, error: 'Not Found' })
  })
})
