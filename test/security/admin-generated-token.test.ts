/**
 * An admin listener bound beyond loopback with no `admin.token` is not left open: a token is
 * generated at start and printed once; on loopback nothing changes (no token needed).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { generatedAdminToken, isLoopbackHost } from '../../src/admin-token.js'

let up: TestUpstream | undefined
let gw: StartedGateway | undefined
afterEach(async () => {
  await gw?.close()
  await up?.close()
  gw = undefined
  up = undefined
})

const config = (admin: Record<string, unknown>) => ({ admin, pools: { p: { backends: [up!.url] } }, routes: [{ name: 'r', match: { path: '/' }, pool: 'p' }] })

describe('generated admin token', () => {
  it('an admin on 0.0.0.0 without a token requires the one printed at start', async () => {
    up = await startUpstream('a')
    gw = await startGateway(config({ host: '0.0.0.0' }))
    const lines = gw.logs.filter((l) => l['action'] === 'admin-token-generated')
    expect(lines).toHaveLength(1)
    const token = lines[0]!['adminToken'] as string
    expect(token.length).toBeGreaterThanOrEqual(32)
    const port = new URL(gw.adminUrl!).port
    const admin = `http://127.0.0.1:${port}`
    const denied = await request(`${admin}/api/pools`)
    await denied.body.dump()
    expect(denied.statusCode).toBe(401)
    const allowed = await request(`${admin}/api/pools`, { headers: { authorization: `Bearer ${token}` } })
    await allowed.body.dump()
    expect(allowed.statusCode).toBe(200)
    const health = await request(`${admin}/health`)
    await health.body.dump()
    expect(health.statusCode).toBe(200)
  })

  it('a loopback admin and a configured token are left as they are', async () => {
    up = await startUpstream('a')
    gw = await startGateway(config({}))
    expect(gw.logs.filter((l) => l['action'] === 'admin-token-generated')).toEqual([])
    const res = await request(`${gw.adminUrl}/api/pools`)
    await res.body.dump()
    expect(res.statusCode).toBe(200)
    expect(generatedAdminToken('127.0.0.1')).toBe('')
    expect(generatedAdminToken('[::1]')).toBe('')
    expect(generatedAdminToken('10.0.0.1')).not.toBe('')
    expect(isLoopbackHost('localhost')).toBe(true)
    expect(isLoopbackHost('::')).toBe(false)
  })
})
