/**
 * Countries: `geoip` from a MaxMind DB file (generated here) and/or a trusted CDN header;
 * `match.country` routes by it and `access.countries` refuses by it (403 JSON, never forwarded),
 * over real sockets; a reload re-reads a changed database; check reports an unreadable one;
 * explain shows the country.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { compileProblems } from '../../src/check.js'
import { normalizeConfig, ConfigError } from '../../src/config/index.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { writeCountryMmdb } from '../helpers/mmdb.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function tempDb(networks: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sy-geo-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'country.mmdb')
  writeFileSync(file, writeCountryMmdb(networks))
  return file
}

const NETS = { '81.2.69.0/24': 'GB', '2001:db8::/32': 'DE', '198.51.100.0/24': 'FR' }

async function setup(geoip: Record<string, unknown>, routes: Record<string, unknown>[], trusted = ['127.0.0.1']): Promise<{ gw: StartedGateway; de: TestUpstream; rest: TestUpstream }> {
  const de = await startUpstream('de')
  const rest = await startUpstream('rest')
  cleanups.push(() => de.close(), () => rest.close())
  const gw = await startGateway({ server: { trustedProxies: trusted }, geoip, pools: { de: { backends: [de.url] }, rest: { backends: [rest.url] } }, routes })
  cleanups.push(() => gw.close())
  return { gw, de, rest }
}

const from = (ip: string, extra: Record<string, string> = {}) => ({ headers: { 'x-forwarded-for': ip, ...extra } })

describe('geoip countries', () => {
  it('match.country routes by the country of the resolved client address (IPv4 and IPv6)', async () => {
    const { gw, de, rest } = await setup({ database: tempDb(NETS) }, [
      { name: 'germany', match: { path: '/', country: ['de', 'AT'] }, pool: 'de' },
      { name: 'world', match: { path: '/' }, pool: 'rest' },
    ])
    expect((await fetch(`${gw.url}/x`, from('2001:db8::7'))).headers.get('x-upstream')).toBe('de')
    expect((await fetch(`${gw.url}/x`, from('81.2.69.160'))).headers.get('x-upstream')).toBe('rest')
    expect((await fetch(`${gw.url}/x`, from('203.0.113.1'))).headers.get('x-upstream')).toBe('rest') // unknown
    expect(de.requests).toHaveLength(1)
    expect(rest.requests).toHaveLength(2)
  })

  it('access.countries refuses with 403 JSON, never forwarding; unknown countries fail an allow list', async () => {
    const { gw, rest } = await setup({ database: tempDb(NETS) }, [
      { name: 'eu-only', match: { path: '/eu' }, access: { countries: { allow: ['DE', 'FR'] } }, pool: 'rest' },
      { name: 'no-gb', match: { path: '/' }, access: { countries: { deny: ['GB'] } }, pool: 'rest' },
    ])
    expect((await fetch(`${gw.url}/eu`, from('198.51.100.4'))).status).toBe(200)
    const refused = await fetch(`${gw.url}/eu`, from('81.2.69.1'))
    expect(refused.status).toBe(403)
    expect(await refused.json()).toMatchObject({ statusCode: 403, message: 'client address is not allowed on this route' })
    expect((await fetch(`${gw.url}/eu`, from('203.0.113.1'))).status).toBe(403)
    expect((await fetch(`${gw.url}/x`, from('81.2.69.1'))).status).toBe(403)
    expect((await fetch(`${gw.url}/x`, from('203.0.113.1'))).status).toBe(200)
    expect(rest.requests).toHaveLength(2)
  })

  it("a CDN's country header is believed from a trusted proxy only, and before the database", async () => {
    const routes = [
      { name: 'germany', match: { path: '/', country: ['DE'] }, pool: 'de' },
      { name: 'world', match: { path: '/' }, pool: 'rest' },
    ]
    const trusted = await setup({ database: tempDb(NETS), header: 'CF-IPCountry' }, routes)
    expect((await fetch(`${trusted.gw.url}/x`, from('81.2.69.1', { 'cf-ipcountry': 'de' }))).headers.get('x-upstream')).toBe('de')
    const untrusted = await setup({ header: 'cf-ipcountry' }, routes, [])
    expect((await fetch(`${untrusted.gw.url}/x`, { headers: { 'cf-ipcountry': 'DE' } })).headers.get('x-upstream')).toBe('rest')
  })

  it('a reload re-reads a changed database file', async () => {
    const file = tempDb(NETS)
    const config = (db: string) => ({
      server: { host: '127.0.0.1', port: 0, trustedProxies: ['127.0.0.1'] },
      geoip: { database: db },
      pools: { de: { backends: [de.url] }, rest: { backends: [rest.url] } },
      routes: [
        { name: 'germany', match: { path: '/', country: ['DE'] }, pool: 'de' },
        { name: 'world', match: { path: '/' }, pool: 'rest' },
      ],
    })
    const de = await startUpstream('de')
    const rest = await startUpstream('rest')
    cleanups.push(() => de.close(), () => rest.close())
    const gw = await startGateway(config(file))
    cleanups.push(() => gw.close())
    expect((await fetch(`${gw.url}/x`, from('81.2.69.1'))).headers.get('x-upstream')).toBe('rest')
    writeFileSync(file, writeCountryMmdb({ ...NETS, '81.2.69.0/24': 'DE' }))
    expect((await gw.reload({ ...config(file), admin: { host: '127.0.0.1', port: 0 } })).ok).toBe(true)
    expect((await fetch(`${gw.url}/x`, from('81.2.69.1'))).headers.get('x-upstream')).toBe('de')
  })

  it('explain shows the country', async () => {
    const { gw } = await setup({ database: tempDb(NETS) }, [{ name: 'world', match: { path: '/' }, pool: 'rest' }])
    const res = await fetch(`${gw.adminUrl}/api/explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ method: 'GET', host: 'a', path: '/x', clientIp: '2001:db8::1' }) })
    expect(((await res.json()) as { request: { country: string } }).request.country).toBe('DE')
  })

  it('config: country rules need geoip; an unreadable or invalid database is a problem at geoip.database', () => {
    try {
      normalizeConfig({ pools: { p: { backends: ['http://127.0.0.1:9'] } }, routes: [{ name: 'r', pool: 'p', match: { country: ['DE'] }, access: { countries: { deny: ['GB'] } } }] })
      expect.unreachable()
    } catch (err) {
      expect((err as ConfigError).problems.map((p) => p.path)).toEqual(['routes[0].match.country', 'routes[0].access.countries'])
    }
    const dir = mkdtempSync(join(tmpdir(), 'sy-geo-bad-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, 'bad.mmdb'), 'not a database')
    for (const database of [join(dir, 'missing.mmdb'), join(dir, 'bad.mmdb')]) {
      const s = normalizeConfig({ geoip: { database }, pools: { p: { backends: ['http://127.0.0.1:9'] } }, routes: [{ name: 'r', pool: 'p' }] })
      expect(compileProblems(s).map((p) => p.path)).toEqual(['geoip.database'])
    }
  })
})
