/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core) against a
 * running gateway with real upstreams: it lists pools and backends, shows a backend going down
 * within seconds of its server closing, and a weight change made on the page reaches
 * GET /api/routes. With UPDATE_DASHBOARD_PNG=1 it also refreshes docs/dashboard.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { request } from 'undici'
import type { Browser, Page } from 'playwright-core'
import { browserTestsRun, launchChromium } from '../helpers/browser.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, waitFor, type TestUpstream } from '../helpers/upstream.js'

const TOKEN = 'dashboard-test-token'
const root = resolve(import.meta.dirname, '../..')

// In CI the browser test always runs: a missing Chromium fails it with a clear message.
describe.runIf(browserTestsRun('the dashboard browser test'))('dashboard in Chromium', () => {
  let ups: TestUpstream[] = []
  let gw: StartedGateway
  let browser: Browser
  let page: Page
  let shotDir: string
  let traffic: ReturnType<typeof setInterval> | undefined

  const admin = (path: string, init: Parameters<typeof request>[1] = {}) =>
    request(`${gw.adminUrl}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...(init?.headers as object) } })

  beforeAll(async () => {
    ups = await Promise.all(['shop-1', 'shop-2', 'shop-canary', 'api-1', 'api-2'].map((n) => startUpstream(n)))
    const [s1, s2, canary, a1, a2] = ups.map((u) => u.url)
    const healthCheck = { path: '/health', interval: '100ms', timeout: '300ms', unhealthyThreshold: 1, healthyThreshold: 1 }
    gw = await startGateway({
      admin: { token: TOKEN },
      pools: {
        'shop-v1': { algorithm: 'least-connections', backends: [s1, s2], healthCheck, fallback: 'shop-v2', circuitBreaker: { consecutiveFailures: 3, openDuration: '30s' } },
        'shop-v2': { backends: [canary], healthCheck },
        api: { algorithm: 'weighted-round-robin', backends: [a1, { url: a2, weight: 2 }], healthCheck },
        db: { backends: [a1!.replace('http://', 'tcp://')] },
      },
      streams: [{ name: 'db', listen: { port: 0 }, pool: 'db' }],
      routes: [
        {
          name: 'shop',
          match: { path: '/shop' },
          split: [
            { pool: 'shop-v1', weight: 90 },
            { pool: 'shop-v2', weight: 10 },
          ],
          sticky: 'header:x-user-id',
        },
        { name: 'api', match: { path: '/api', methods: ['GET', 'POST'] }, pool: 'api' },
      ],
    })
    // Steady background traffic so the page has rates to show.
    let n = 0
    traffic = setInterval(() => {
      n++
      for (const path of ['/shop/cart', '/api/items', n % 7 === 0 ? '/nowhere' : '/api/users']) {
        request(`${gw.url}${path}`, { headers: { 'x-user-id': `u${n % 50}` } }).then(
          (r) => r.body.dump(),
          () => undefined,
        )
      }
    }, 40)
    browser = await launchChromium('the dashboard browser test')
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } })
    shotDir = mkdtempSync(join(tmpdir(), 'sy-dash-'))
  }, 30_000)

  afterAll(async () => {
    if (traffic) clearInterval(traffic)
    await browser?.close()
    await gw?.close()
    await Promise.all(ups.map((u) => u.close()))
    if (shotDir) rmSync(shotDir, { recursive: true, force: true })
  })

  it('serves the HTML shell without the token, with a strict CSP; the API still needs it', async () => {
    const res = await request(`${gw.adminUrl}/`)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toContain('text/html')
    expect(String(res.headers['content-security-policy'])).toContain("default-src 'none'")
    const html = await res.body.text()
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet/)
    const stats = await request(`${gw.adminUrl}/api/stats`)
    expect(stats.statusCode).toBe(401)
    await stats.body.dump()
  })

  it('asks for the token, then lists every pool and backend', async () => {
    await page.goto(`${gw.adminUrl}/`)
    await page.waitForSelector('#token-dialog[open]', { timeout: 5000 })
    await page.fill('#token-input', TOKEN)
    await page.click('#token-save')
    for (const pool of ['shop-v1', 'shop-v2', 'api']) await page.waitForSelector(`[data-pool="${pool}"]`, { timeout: 5000 })
    for (const u of ups) {
      const row = page.locator(`tr[data-backend="${u.url}"]`)
      await expect.poll(() => row.count()).toBe(1)
      await expect.poll(() => row.locator('.health').textContent()).toBe('healthy')
    }
    await expect.poll(() => page.locator('tr[data-route]:not([data-route="-"])').count()).toBe(2)
    await expect.poll(() => page.locator('tr[data-stream="db"]').count()).toBe(1)
    // The certificates panel: this gateway has no TLS listener.
    await expect.poll(() => page.locator('#certificates').textContent()).toBe('No TLS listener.')
    // Rates appear once two snapshots exist.
    await expect.poll(async () => (await page.locator('#t-rate').textContent())?.trim(), { timeout: 8000 }).toMatch(/^\d/)
  })

  it('shows a backend going down within a few seconds of its server closing', async () => {
    const victim = ups[1]!
    await victim.close()
    const started = Date.now()
    const row = page.locator(`tr[data-backend="${victim.url}"]`)
    await expect.poll(() => row.locator('.health').textContent(), { timeout: 5000, interval: 100 }).toBe('down')
    expect(Date.now() - started).toBeLessThan(5000)
    await expect.poll(() => row.getAttribute('data-available')).toBe('false')
    // The others stay up.
    await expect.poll(() => page.locator(`tr[data-backend="${ups[0]!.url}"] .health`).textContent()).toBe('healthy')
  })

  it('moves a split from the page, and GET /api/routes shows it', async () => {
    await page.click('button[data-edit-route="shop"]')
    await page.waitForSelector('#split-dialog[open]')
    await page.fill('#split-rows input[data-pool="shop-v1"]', '60')
    await page.fill('#split-rows input[data-pool="shop-v2"]', '40')
    await page.click('#split-apply')
    await waitFor(
      async () => {
        const routes = (await (await admin('/api/routes')).body.json()) as { name: string; split: { pool: string; weight: number }[] }[]
        const shop = routes.find((r) => r.name === 'shop')!
        return shop.split.find((t) => t.pool === 'shop-v1')?.weight === 60 && shop.split.find((t) => t.pool === 'shop-v2')?.weight === 40
      },
      5000,
      50,
      'the new weights in GET /api/routes',
    )
    await page.waitForSelector('#split-dialog[open]', { state: 'detached' })
    await expect.poll(() => page.locator('tr[data-route="shop"] .split').getAttribute('title')).toBe('shop-v1: 60, shop-v2: 40')
    expect(gw.logs.some((l) => l.type === 'audit' && l.action === 'route.split')).toBe(true)
  })

  it('reports a purge failure on the page instead of breaking', async () => {
    await page.selectOption('#purge-kind', 'prefix')
    await page.fill('#purge-value', '/shop')
    await page.click('#purge-button')
    // No route caches here: either the purge answers (0 entries) or the endpoint says caching is off.
    await expect.poll(() => page.locator('#purge-msg').textContent()).toMatch(/Purged 0 entries|not available/)
  })

  it('renders a screenshot (docs/dashboard.png with UPDATE_DASHBOARD_PNG=1)', async () => {
    await page.selectOption('#purge-kind', 'all')
    await page.evaluate(() => (globalThis as unknown as { document: { getElementById(id: string): { textContent: string } } }).document.getElementById('purge-msg').textContent = '')
    const target = process.env.UPDATE_DASHBOARD_PNG === '1' ? join(root, 'docs/dashboard.png') : join(shotDir, 'dashboard.png')
    await page.screenshot({ path: target, fullPage: true })
    expect(statSync(target).size).toBeGreaterThan(10_000)
  })
})
