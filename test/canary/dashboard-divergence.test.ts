/**
 * The dashboard's canary panel with the divergence gate (`gates.maxDivergence`, shadow answers
 * compared through `mirror.compare`): a Divergence column with the share of shadow answers that
 * differed and how many were compared, per decided step, in a real browser.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { browserTestsRun, launchChromium } from '../helpers/browser.js'
import { request } from 'undici'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { canaryConfig } from './helpers.js'

describe.runIf(browserTestsRun('the canary divergence dashboard test'))('the canary panel with the divergence gate', () => {
  let ups: TestUpstream[] = []
  let gw: StartedGateway
  let browser: Browser
  let page: Page
  let traffic: ReturnType<typeof setInterval> | undefined

  beforeAll(async () => {
    ups = await Promise.all(['v1', 'v2'].map((n) => startUpstream(n)))
    // The echo upstreams answer alike but for their name and the headers they received.
    gw = await startGateway(
      canaryConfig(
        ups[0]!.url,
        ups[1]!.url,
        { steps: [20, 50, 80], interval: '300ms', gates: { minRequests: 5, maxP99Ratio: 50, maxDivergence: 0.05 } },
        { mirror: { pool: 'v2', compare: { ignore: ['/upstream', '/headers'] } } },
      ),
    )
    let n = 0
    traffic = setInterval(() => {
      for (let i = 0; i < 4; i++) request(`${gw.url}/u/${n++}`).then((r) => r.body.dump(), () => undefined)
    }, 20)
    browser = await launchChromium('the canary divergence dashboard test')
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } })
  }, 30_000)

  afterAll(async () => {
    if (traffic) clearInterval(traffic)
    await browser?.close()
    await gw?.close()
    await Promise.all(ups.map((u) => u.close()))
  })

  it('shows the divergence of each decided step', async () => {
    await page.goto(`${gw.adminUrl}/`)
    const card = page.locator('[data-canary="users"]')
    await expect.poll(() => card.count(), { timeout: 8000 }).toBe(1)
    expect(await card.locator('thead th').allTextContents()).toContain('Divergence')
    const passed = card.locator('tr[data-result="passed"]')
    await expect.poll(() => passed.count(), { timeout: 8000 }).toBeGreaterThan(0)
    const shown = await passed.first().locator('td[data-divergence]').textContent()
    expect(shown).toMatch(/^0(\.0+)?% of \d+$/)
    expect(Number(/of (\d+)$/.exec(shown!)![1])).toBeGreaterThanOrEqual(5)
  }, 20_000)
})
