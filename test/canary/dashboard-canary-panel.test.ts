/**
 * The dashboard's canary panel in a real browser (Debian's Chromium driven by playwright-core):
 * both cohorts per step with each step's decision, and the operator's buttons reaching the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { request } from 'undici'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startGateway, type StartedGateway } from '../helpers/gateway.js'
import { startUpstream, type TestUpstream } from '../helpers/upstream.js'
import { canaries, canaryConfig } from './helpers.js'

const CHROMIUM = '/usr/bin/chromium'
const haveChromium = existsSync(CHROMIUM)
const inCi = process.env.CI === 'true'

if (!haveChromium && !inCi) {
  console.warn(`\n*** canary dashboard test SKIPPED: ${CHROMIUM} not found (apt-get install chromium; CI installs it via .ci/run) ***\n`)
}

describe.runIf(haveChromium || inCi)('the canary panel of the dashboard', () => {
  let ups: TestUpstream[] = []
  let gw: StartedGateway
  let browser: Browser
  let page: Page
  let traffic: ReturnType<typeof setInterval> | undefined

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`${CHROMIUM} is missing: the canary dashboard test cannot run (apt-get install chromium; .ci/run does this)`)
    ups = await Promise.all(['v1', 'v2'].map((n) => startUpstream(n)))
    gw = await startGateway(canaryConfig(ups[0]!.url, ups[1]!.url, { steps: [20, 50, 80], interval: '300ms', gates: { minRequests: 5, maxP99Ratio: 50 } }))
    let n = 0
    traffic = setInterval(() => {
      for (let i = 0; i < 4; i++) request(`${gw.url}/u/${n++}`).then((r) => r.body.dump(), () => undefined)
    }, 20)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    })
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } })
  }, 30_000)

  afterAll(async () => {
    if (traffic) clearInterval(traffic)
    await browser?.close()
    await gw?.close()
    await Promise.all(ups.map((u) => u.close()))
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
