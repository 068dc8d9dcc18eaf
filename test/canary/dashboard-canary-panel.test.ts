/**
 * The dashboard's canary panel in a real browser (Debian's Chromium driven by playwright-core):
 * both cohorts per step with each step's decision, the operator's buttons reaching the API, and
 * with the divergence gate (`gates.maxDivergence`, shadow answers compared through
 * `mirror.compare`) each step's share of differing shadow answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import type { Browser, Page } from 'playwright-core'
import { browserTestsRun, launchChromium } from '../helpers/browser.js'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { canaries, canaryConfig } from './helpers.js'

const WHAT = 'the canary dashboard test'

interface Panel {
  readonly gw: StartedGateway
  readonly page: Page
  close(): Promise<void>
}

/** Two echo upstreams, a gateway with a canary route over them under steady traffic, a browser page. */
async function openPanel(canary: Record<string, unknown>, route: Record<string, unknown> = {}): Promise<Panel> {
  const ups: TestUpstream[] = await Promise.all(['v1', 'v2'].map((n) => startUpstream(n)))
  const gw = await startGateway(canaryConfig(ups[0]!.url, ups[1]!.url, canary, route))
  let n = 0
  const traffic = setInterval(() => {
    for (let i = 0; i < 4; i++) request(`${gw.url}/u/${n++}`).then((r) => r.body.dump(), () => undefined)
  }, 20)
  let browser: Browser | undefined
  try {
    browser = await launchChromium(WHAT)
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } })
    return {
      gw,
      page,
      async close() {
        clearInterval(traffic)
        await browser?.close()
        await gw.close()
        await Promise.all(ups.map((u) => u.close()))
      },
    }
  } catch (err) {
    clearInterval(traffic)
    await gw.close()
    await Promise.all(ups.map((u) => u.close()))
    throw err
  }
}

describe.runIf(browserTestsRun(WHAT))('the canary panel of the dashboard', () => {
  let panel: Panel
  let gw: StartedGateway
  let page: Page

  beforeAll(async () => {
    panel = await openPanel({ steps: [20, 50, 80], interval: '300ms', gates: { minRequests: 5, maxP99Ratio: 50 } })
    ;({ gw, page } = panel)
  }, 30_000)

  afterAll(async () => {
    await panel?.close()
  })

  it('shows each step with both cohorts and its decision, and rolls back from the page', async () => {
    await page.goto(`${gw.adminUrl}/`)
    const card = page.locator('[data-canary="users"]')
    await expect.poll(() => card.count(), { timeout: 8000 }).toBe(1)
    // A decided step appears with its cohorts' figures.
    const passed = card.locator('tr[data-result="passed"]')
    await expect.poll(() => passed.count(), { timeout: 8000 }).toBeGreaterThan(0)
    const cells = await passed.first().locator('td').allTextContents()
    expect(cells[0]).toBe('1')
    expect(cells[1]).toBe('20%')
    expect(cells[3]).toMatch(/%$/)
    expect(cells[5]).toMatch(/ms|s$/)
    expect(cells[8]).toBe('passed')
    await expect.poll(() => card.locator('[data-last-decision]').textContent()).toMatch(/^Last decision: (step|promoted)/)

    // Roll back from the page (after the confirmation the page asks for).
    page.once('dialog', (d) => void d.accept())
    await card.locator('button[data-action="rollback"]').click()
    await expect.poll(async () => (await canaries(gw))[0]!['state']).toBe('rolled-back')
    await expect.poll(() => card.getAttribute('data-state')).toBe('rolled-back')
    await expect.poll(() => card.locator('button[data-action="rollback"]').count()).toBe(0)
    expect(await card.locator('[data-last-decision]').textContent()).toContain('rolled-back by operator')
  }, 20_000)
})

describe.runIf(browserTestsRun(WHAT))('the canary panel with the divergence gate', () => {
  let panel: Panel
  let gw: StartedGateway
  let page: Page

  beforeAll(async () => {
    // The echo upstreams answer alike but for their name and the headers they received.
    panel = await openPanel(
      { steps: [20, 50, 80], interval: '300ms', gates: { minRequests: 5, maxP99Ratio: 50, maxDivergence: 0.05 } },
      { mirror: { pool: 'v2', compare: { ignore: ['/upstream', '/headers'] } } },
    )
    ;({ gw, page } = panel)
  }, 30_000)

  afterAll(async () => {
    await panel?.close()
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
