/**
 * The dashboard's history, events and controls in real Chromium (Debian's, driven by
 * playwright-core) against a running gateway with real upstreams:
 * - the token typed at human speed (a key every 120 ms, across several 1.5 s polls) is entered,
 *   because polling pauses while the dialog is open; a wrong token is reported as refused;
 * - the charts plot the gateway's own history (req/s, 4xx/5xx, p50/p99) per route and pool;
 * - unmatched traffic has its own row; cache hit ratio and refusals have tiles;
 * - the reload button reloads and the event timeline shows it;
 * - a backend is drained and re-weighted from its Control dialog;
 * - at 420 px wide nothing overflows the page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import type { Browser, Page } from 'playwright-core'
import { browserTestsRun, launchChromium } from '../helpers/browser.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { historySettings } from '../../routes/api-history.js'

const TOKEN = 'history-test-token'

describe.runIf(browserTestsRun('the dashboard history browser test'))('dashboard history and controls in Chromium', () => {
  let ups: TestUpstream[] = []
  let gw: StartedGateway
  let browser: Browser
  let page: Page
  let traffic: ReturnType<typeof setInterval> | undefined
  const interval = historySettings.intervalMs

  beforeAll(async () => {
    historySettings.intervalMs = 250
    const cached = await startUpstream('cached', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=60' })
      res.end('cached body')
    })
    ups = [await startUpstream('api'), cached]
    gw = await startGateway({
      admin: { token: TOKEN },
      pools: { api: { backends: [ups[0]!.url] }, store: { backends: [cached.url] } },
      routes: [
        { name: 'limited', match: { path: '/limited' }, pool: 'api', rateLimit: { max: 1, window: '1m', key: 'route' } },
        { name: 'cached', match: { path: '/cached' }, pool: 'store', cache: {} },
        { name: 'api', match: { path: '/api' }, pool: 'api' },
      ],
    })
    historySettings.intervalMs = interval
    let n = 0
    traffic = setInterval(() => {
      n++
      for (const path of ['/api/items', '/cached/x', n % 3 === 0 ? '/nowhere' : '/api/users', '/limited']) {
        request(`${gw.url}${path}`).then(
          (r) => r.body.dump(),
          () => undefined,
        )
      }
    }, 40)
    browser = await launchChromium('the dashboard history browser test')
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  }, 30_000)

  afterAll(async () => {
    historySettings.intervalMs = interval
    if (traffic) clearInterval(traffic)
    await browser?.close()
    await gw?.close()
    await Promise.all(ups.map((u) => u.close()))
  })

  it('says a wrong token is refused, and takes a token typed a key at a time across several polls', async () => {
    await page.goto(`${gw.adminUrl}/`)
    await page.waitForSelector('#token-dialog[open]', { timeout: 5000 })
    const input = page.locator('#token-input')
    await input.pressSequentially('wrong-token', { delay: 60 })
    await page.click('#token-save')
    await expect.poll(() => page.locator('#token-error').textContent()).toMatch(/refused/)
    expect(await page.locator('#token-dialog').getAttribute('open')).not.toBeNull()

    await input.fill('')
    // 18 keys at 120 ms: over 2 s, longer than a poll; the dialog must not reset the field.
    await input.pressSequentially(TOKEN, { delay: 120 })
    expect(await input.inputValue()).toBe(TOKEN)
    await page.click('#token-save')
    await page.waitForSelector('#token-dialog[open]', { state: 'detached', timeout: 5000 })
    await page.waitForSelector('[data-pool="api"]', { timeout: 5000 })
    expect(await page.evaluate(() => sessionStorage.getItem('switchyard.adminToken'))).toBe(TOKEN)
  })

  it('draws req/s, 4xx/5xx and latency from the history, for all traffic and per route and pool', async () => {
    const series = async (id: string) => JSON.parse((await page.locator(id).getAttribute('data-series')) ?? '{}') as Record<string, (number | null)[]>
    await expect.poll(async () => (await series('#chart-rate'))['req/s']?.filter((v) => v !== null && v > 0).length ?? 0, { timeout: 8000 }).toBeGreaterThan(2)
    await expect.poll(async () => Math.max(...((await series('#chart-errors'))['4xx/s'] ?? [0]).map((v) => v ?? 0)), { timeout: 5000 }).toBeGreaterThan(0)
    await expect.poll(async () => ((await series('#chart-latency'))['p99'] ?? []).some((v) => v !== null && v > 0), { timeout: 5000 }).toBe(true)
    // The same numbers the endpoint serves.
    const hist = (await (await request(`${gw.adminUrl}/api/stats/history`, { headers: { authorization: `Bearer ${TOKEN}` } })).body.json()) as {
      points: { series: Record<string, { rate: number | null }> }[]
    }
    expect(hist.points.some((p) => (p.series['route|api']?.rate ?? 0) > 0 && (p.series['pool|store']?.rate ?? 0) > 0)).toBe(true)
    // Per route: the scope selector lists routes and pools; the unmatched traffic has its own.
    const options = await page.locator('#chart-scope option').evaluateAll((os) => os.map((o) => (o as unknown as { value: string }).value))
    expect(options).toEqual(expect.arrayContaining(['all', 'route|api', 'route|cached', 'route|-', 'pool|api', 'pool|store']))
    await page.selectOption('#chart-scope', 'route|limited')
    await expect.poll(async () => Math.max(...((await series('#chart-errors'))['4xx/s'] ?? [0]).map((v) => v ?? 0))).toBeGreaterThan(0)
    await expect.poll(async () => Math.max(...((await series('#chart-errors'))['5xx/s'] ?? [0]).map((v) => v ?? 0))).toBe(0)
  })

  it('shows unmatched traffic as its own row, the cache hit ratio and the rate-limit refusals', async () => {
    await expect.poll(() => page.locator('tr[data-route="-"]').count(), { timeout: 5000 }).toBe(1)
    await expect.poll(async () => (await page.locator('#t-cache').textContent())?.trim(), { timeout: 5000 }).toMatch(/^(9\d|100)(\.\d)?%$/)
    await expect.poll(async () => Number((await page.locator('#t-refused').textContent())?.trim()), { timeout: 5000 }).toBeGreaterThan(0)
  })

  it('drains and re-weights a backend from its Control dialog; GET /api/pools and the timeline show it', async () => {
    const url = ups[0]!.url
    await page.click(`button[data-control-backend="${url}"]`)
    await page.waitForSelector('#backend-dialog[open]')
    await page.selectOption('#backend-state', 'drain')
    await page.fill('#backend-weight', '3')
    await page.click('#backend-apply')
    await page.waitForSelector('#backend-dialog[open]', { state: 'detached', timeout: 5000 })
    const pools = (await (await request(`${gw.adminUrl}/api/pools`, { headers: { authorization: `Bearer ${TOKEN}` } })).body.json()) as {
      name: string
      backends: { url: string; state?: string; weight: number }[]
    }[]
    expect(pools.find((p) => p.name === 'api')!.backends.find((b) => b.url === url)).toMatchObject({ state: 'drain', weight: 3 })
    await expect.poll(() => page.locator('#events li[data-event-type="backend.state"]').count(), { timeout: 5000 }).toBeGreaterThan(0)
    await expect.poll(() => page.locator(`tr[data-backend="${url}"] .pill.idle`).first().textContent()).toBe('drain')
    // Back to normal, so the rest of the traffic is served.
    await page.click(`button[data-control-backend="${url}"]`)
    await page.selectOption('#backend-state', 'enabled')
    await page.click('#backend-apply')
    await page.waitForSelector('#backend-dialog[open]', { state: 'detached', timeout: 5000 })
  })

  it('reloads from the button, and the event timeline shows the reload', async () => {
    await page.click('#reload-button')
    await expect.poll(() => page.locator('#reload-msg').textContent()).toMatch(/reloaded: v2|rejected/)
    await expect.poll(() => page.locator('#events li[data-event-type="reload"]').count(), { timeout: 5000 }).toBeGreaterThan(0)
    const events = (await (await request(`${gw.adminUrl}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` } })).body.json()) as { type: string; time: string }[]
    expect(events[0]).toMatchObject({ type: 'reload' })
  })

  it('fits a 420 px wide screen: nothing overflows the page', async () => {
    await page.setViewportSize({ width: 420, height: 900 })
    await page.waitForTimeout(300)
    const widths = await page.evaluate(() => {
      const d = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document
      return { scroll: d.documentElement.scrollWidth, client: d.documentElement.clientWidth }
    })
    expect(widths.scroll).toBeLessThanOrEqual(widths.client)
  })
})
