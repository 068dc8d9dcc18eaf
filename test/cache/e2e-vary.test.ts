import { afterEach, describe, expect, it } from 'vitest'
import { cacheRig, reply, type CacheRig } from './e2e-harness.js'

let rig: CacheRig | undefined
afterEach(async () => {
  await rig?.close()
  rig = undefined
})

describe('cache: Vary selects the variant', () => {
  it('keys the request headers Vary names: each language gets its own body', async () => {
    rig = await cacheRig((req, res) =>
      reply(res, req, 200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' }, `hello in ${req.headers['accept-language'] ?? 'default'}`),
    )
    expect((await rig.get('/greet', { 'accept-language': 'en' })).body).toBe('hello in en')
    expect((await rig.get('/greet', { 'accept-language': 'de' })).body).toBe('hello in de')
    expect((await rig.get('/greet')).body).toBe('hello in default')
    const en = await rig.get('/greet', { 'accept-language': 'en' })
    expect(en.body).toBe('hello in en')
    expect(en.headers['cache-status']).toBe('switchyard; hit')
    const de = await rig.get('/greet', { 'accept-language': 'de' })
    expect(de.body).toBe('hello in de')
    expect(de.headers['cache-status']).toBe('switchyard; hit')
    expect(rig.hits('/greet')).toBe(3)
  })

  it('treats Accept-Language case-insensitively (language tags are)', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=60', vary: 'accept-language' }, 'x'))
    await rig.get('/l', { 'accept-language': 'en-GB, de' })
    expect((await rig.get('/l', { 'accept-language': 'EN-gb,DE' })).headers['cache-status']).toBe('switchyard; hit')
  })

  it('does not let an unkeyed header change a stored body (X-Forwarded-Host from an untrusted client)', async () => {
    rig = await cacheRig((req, res) => reply(res, req, 200, { 'cache-control': 'max-age=60' }, `link to ${req.headers['x-forwarded-host']}`))
    const host = new URL(rig.gw.url).host
    const evil = await rig.get('/page', { 'x-forwarded-host': 'evil.example' })
    // The gateway replaces an untrusted client's X-Forwarded-Host, so the stored body is safe to share.
    expect(evil.body).toBe(`link to ${host}`)
    expect((await rig.get('/page')).body).toBe(`link to ${host}`)
  })
})
